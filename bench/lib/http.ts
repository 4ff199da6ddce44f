import { Agent, request } from 'undici';

/** One keep-alive connection pool for the whole load generator, so sockets are reused like a real client fleet would. */
export const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 256, pipelining: 1 });

export interface Reply {
  status: number;
  location?: string;
  body: string;
  setCookies: string[];
}

export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const response = await request(url, {
    dispatcher: agent,
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
  });
  const body = await response.body.text();
  const location = response.headers.location;
  const setCookie = response.headers['set-cookie'];
  return {
    status: response.statusCode,
    location: typeof location === 'string' ? new URL(location, url).toString() : undefined,
    body,
    setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie],
  };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Reply> {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form(fields),
  });
}

/** A browser without JavaScript: keeps cookies (by name and path), follows redirects by hand. */
export class CookieBrowser {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  private header(url: URL): string {
    const parts: string[] = [];
    for (const cookie of this.cookies.values()) if (url.pathname.startsWith(cookie.path)) parts.push(`${cookie.name}=${cookie.value}`);
    return parts.join('; ');
  }

  private remember(url: URL, lines: string[]): void {
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttribute = attributes.find((attribute) => attribute.toLowerCase().startsWith('path='));
      const path = pathAttribute ? pathAttribute.slice(5) : url.pathname.replace(/\/[^/]*$/, '/') || '/';
      const key = `${name}\u0000${path}`;
      const expired = attributes.some((attribute) => /^max-age=0$/i.test(attribute) || /^expires=thu, 01 jan 1970/i.test(attribute));
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  async request(url: string, fields?: Record<string, string>): Promise<Reply> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = this.header(target);
    if (cookie) headers.cookie = cookie;
    const reply = fields ? await postForm(url, fields, headers) : await send(url, { headers });
    this.remember(target, reply.setCookies);
    return reply;
  }

  /** Follows redirects until a page answers or the next hop starts with `stopAt` (which is not requested). */
  async follow(url: string, fields?: Record<string, string>, stopAt?: string): Promise<Reply & { url: string }> {
    let current = url;
    let reply = await this.request(url, fields);
    for (let hops = 0; hops < 15 && reply.location; hops += 1) {
      if (stopAt && reply.location.startsWith(stopAt)) return { ...reply, url: current };
      current = reply.location;
      reply = await this.request(current);
    }
    return { ...reply, url: current };
  }
}

/** The form whose action ends with `suffix`, with its hidden fields (the CSRF token among them). */
export function findForm(html: string, suffix: string): { action: string; fields: Record<string, string> } {
  for (const match of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/g)) {
    const action = /action="([^"]*)"/.exec(match[0])?.[1]?.replace(/&amp;/g, '&');
    if (action === undefined || !action.split('?')[0]!.endsWith(suffix)) continue;
    const fields: Record<string, string> = {};
    for (const input of match[1]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) fields[name] = value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    }
    return { action, fields };
  }
  throw new Error(`no form ending in ${suffix}: ${html.slice(0, 300)}`);
}
