import { Agent, request } from 'undici';
import { HttpBrowser, type Transport } from '../../test/helpers/browser.ts';

/** One keep-alive connection pool for the whole load generator, so sockets are reused like a real client fleet would. */
export const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 256, pipelining: 1 });

/**
 * HTTP requests this load generator has sent (every request of `send` and of the browsers), so a flow's
 * requests can be counted (see `countRequests`).
 */
let requestsSent = 0;

/** How many HTTP requests `flow` sent; meaningful only while nothing else sends (the bench runs one thing at a time). */
export async function countRequests<T>(flow: () => Promise<T>): Promise<{ value: T; requests: number }> {
  const before = requestsSent;
  const value = await flow();
  return { value, requests: requestsSent - before };
}

export interface Reply {
  status: number;
  location?: string;
  body: string;
}

export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  requestsSent += 1;
  const response = await request(url, {
    dispatcher: agent,
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
  });
  const body = await response.body.text();
  const location = response.headers.location;
  return {
    status: response.statusCode,
    location: typeof location === 'string' ? new URL(location, url).toString() : undefined,
    body,
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

/** Sends one browser request over the shared pool (undici's request: lighter than fetch on this hot path). */
const poolTransport: Transport = async (url, init) => {
  requestsSent += 1;
  const response = await request(url, { dispatcher: agent, method: init.method as 'GET', headers: init.headers, body: init.body });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return { status: response.statusCode, headers, body: await response.body.text() };
};

/** The tests' browser without JavaScript (a tough-cookie jar, forms read with their CSRF fields) on the shared pool. */
export const newBrowser = (): HttpBrowser => new HttpBrowser({}, poolTransport);
