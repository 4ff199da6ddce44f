import { CookieJar, MemoryCookieStore } from 'tough-cookie';

/**
 * A cookie-keeping HTTP client that walks Sesame's pages the way a browser without JavaScript
 * would: follows redirects by hand, reads forms and their CSRF fields, posts them. Cookies live in
 * a tough-cookie jar (RFC 6265: domain, path, expiry, Secure on loopback). The tests send with
 * fetch; the bench passes an undici keep-alive pool as the transport.
 */
export interface PageResponse {
  status: number;
  url: string;
  location?: string;
  body: string;
  headers: Headers;
}

/** Sends one request without following redirects. */
export type Transport = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: Headers; body: string }>;

export const fetchTransport: Transport = async (url, init) => {
  const response = await fetch(url, { ...init, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
};

export class HttpBrowser {
  private readonly store = new MemoryCookieStore();
  private readonly jar = new CookieJar(this.store);

  constructor(
    private readonly headers: Record<string, string> = {},
    private readonly transport: Transport = fetchTransport,
  ) {}

  /** Forgets every cookie but the named ones (e.g. end the Sesame session, keep a long-lived cookie). */
  keepOnlyCookies(names: string[]): void {
    for (const cookie of this.jar.serializeSync()?.cookies ?? []) {
      if (typeof cookie.key === 'string' && !names.includes(cookie.key)) {
        void this.store.removeCookie(String(cookie.domain), String(cookie.path), cookie.key);
      }
    }
  }

  /** Forgets one cookie, wherever it was set. */
  forgetCookie(name: string): void {
    this.keepOnlyCookies((this.jar.serializeSync()?.cookies ?? []).map((cookie) => String(cookie.key)).filter((key) => key !== name));
  }

  /** Changes a header sent with every later request (e.g. X-Forwarded-For when the browser moves network). */
  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  /** Stores a cookie as if `url` had answered with this Set-Cookie line (see helpers/session.ts). */
  setCookie(setCookie: string, url: string): void {
    this.jar.setCookieSync(setCookie, url);
  }

  hasCookie(name: string): boolean {
    return (this.jar.serializeSync()?.cookies ?? []).some((cookie) => cookie.key === name);
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; body?: string; headers?: Record<string, string> } = {},
  ): Promise<PageResponse> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...this.headers, ...init.headers, accept: 'text/html' };
    const cookie = this.jar.getCookieStringSync(target);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined = init.body;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await this.transport(target, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body });
    // As a browser does, a cookie the jar refuses (bad domain, bad prefix) is dropped, not an error.
    for (const line of response.headers.getSetCookie()) this.jar.setCookieSync(line, target, { ignoreError: true });
    const location = response.headers.get('location');
    return {
      status: response.status,
      url: target.toString(),
      location: location ? new URL(location, target).toString() : undefined,
      body: response.body,
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
