/**
 * A cookie-keeping HTTP client that walks Sesame's pages the way a browser without JavaScript
 * would: follows redirects by hand, reads forms and their CSRF fields, posts them.
 */
export interface PageResponse {
  status: number;
  url: string;
  location?: string;
  body: string;
  headers: Headers;
}

interface StoredCookie {
  value: string;
  path: string;
}

export class HttpBrowser {
  private readonly cookies = new Map<string, StoredCookie>();

  constructor(private readonly headers: Record<string, string> = {}) {}

  /** Forgets every cookie but the named ones (e.g. end the Sesame session, keep a long-lived cookie). */
  keepOnlyCookies(names: string[]): void {
    for (const key of [...this.cookies.keys()]) if (!names.includes(key.split('\u0000')[0]!)) this.cookies.delete(key);
  }

  /** Changes a header sent with every later request (e.g. X-Forwarded-For when the browser moves network). */
  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  private cookieHeader(url: URL): string {
    return [...this.cookies.entries()]
      .filter(([, cookie]) => url.pathname.startsWith(cookie.path))
      .map(([key, cookie]) => `${key.split('\u0000')[0]}=${cookie.value}`)
      .join('; ');
  }

  private remember(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttribute = attributes.find((attribute) => attribute.toLowerCase().startsWith('path='));
      const path = pathAttribute ? pathAttribute.slice(5) : url.pathname.replace(/\/[^/]*$/, '/') || '/';
      const key = `${name}\u0000${path}`;
      const expired = attributes.some((attribute) => /^max-age=0$/i.test(attribute) || /^expires=thu, 01 jan 1970/i.test(attribute));
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { value, path });
    }
  }

  hasCookie(name: string): boolean {
    return [...this.cookies.keys()].some((key) => key.split('\u0000')[0] === name);
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; body?: string; headers?: Record<string, string> } = {},
  ): Promise<PageResponse> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...this.headers, ...init.headers, accept: 'text/html' };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined = init.body;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.remember(target, response.headers);
    const location = response.headers.get('location');
    return {
      status: response.status,
      url: target.toString(),
      location: location ? new URL(location, target).toString() : undefined,
      body: await response.text(),
      headers: response.headers,
    };
  }

  /** Follows redirects until a page answers, or until the next hop starts with `stopAt`. */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}, stopAt?: string): Promise<PageResponse> {
    let response = await this.request(url, init);
    for (let hops = 0; hops < 15 && response.location; hops += 1) {
      if (stopAt && response.location.startsWith(stopAt)) return response;
      response = await this.request(response.location);
    }
    return response;
  }

  /** Submits the form whose action ends with `actionSuffix` on `page`, CSRF field included. */
  async submit(page: PageResponse, actionSuffix: string, fields: Record<string, string> = {}, stopAt?: string): Promise<PageResponse> {
    const form = findForm(page.body, actionSuffix);
    return this.follow(new URL(form.action, page.url).toString(), { form: { ...form.fields, ...fields } }, stopAt);
  }
}

export function findForm(html: string, actionSuffix: string): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/g)];
  for (const match of forms) {
    const action = /action="([^"]*)"/.exec(match[0])?.[1]?.replace(/&amp;/g, '&');
    if (action === undefined || !action.split('?')[0]!.endsWith(actionSuffix)) continue;
    const fields: Record<string, string> = {};
    // Hidden inputs inside the form, and (as browsers do) those outside it that name it with form="id".
    const id = /\bid="([^"]*)"/.exec(match[0])?.[1];
    const owned = id ? [...html.matchAll(new RegExp(`<input\\b[^>]*form="${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>`, 'g'))] : [];
    for (const input of [...match[1]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g), ...owned]) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) fields[name] = decodeEntities(value);
    }
    return { action, fields };
  }
  throw new Error(`no form with action ending in ${actionSuffix} in page:\n${html.slice(0, 2000)}`);
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
