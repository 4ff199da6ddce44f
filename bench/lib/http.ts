import { Agent, request } from 'undici';
import { HttpBrowser, type Transport } from '../../test/helpers/browser.ts';

const POOL = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, pipelining: 1 } as const;

/**
 * The keep-alive connection pool of the app servers' requests (token exchange, refresh, userinfo: one
 * address, as an app's backend is) and of anything else that is not a person's browser.
 */
export const agent = new Agent({ ...POOL, connections: 256 });

/**
 * How many loopback addresses the people's browsers come from (127.77.0.1 and up; Linux answers on all
 * of 127.0.0.0/8). A deployment's sign-ins come from many addresses, and Sesame counts code sends per
 * IP: with every browser on 127.0.0.1 and the cap lifted, that one count grew through a run (it scans
 * the IP's sends of the last 15 minutes), a cost no real address pays (its cap, 30 by default, bounds
 * it). Spread over 256 addresses, an address still makes a sign-in every second or so, so its
 * connections stay alive and are reused. Elsewhere than Linux only 127.0.0.1 may exist: one address.
 */
const BROWSER_ADDRESSES = process.platform === 'linux' ? 256 : 1;
/** The nth address (from 1): 127.77.0.1 ... 127.77.0.255, 127.77.1.0 ... */
const loopbackAddress = (n: number) => `127.77.${n >> 8}.${n & 255}`;
const browserAgents = Array.from({ length: BROWSER_ADDRESSES }, (_, n) =>
  BROWSER_ADDRESSES === 1 ? agent : new Agent({ ...POOL, connections: 8, localAddress: loopbackAddress(n + 1) }),
);
let nextBrowserAgent = 0;

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

/** Sends a browser's requests over `dispatcher`'s pool (undici's request: lighter than fetch on this hot path). */
function poolTransport(dispatcher: Agent): Transport {
  return async (url, init) => {
    requestsSent += 1;
    const response = await request(url, { dispatcher, method: init.method as 'GET', headers: init.headers, body: init.body });
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
    }
    return { status: response.statusCode, headers, body: await response.body.text() };
  };
}

/**
 * The tests' browser without JavaScript (a tough-cookie jar, forms read with their CSRF fields), from
 * the next of the browsers' loopback addresses.
 */
export function newBrowser(): HttpBrowser {
  const dispatcher = browserAgents[nextBrowserAgent]!;
  nextBrowserAgent = (nextBrowserAgent + 1) % browserAgents.length;
  return new HttpBrowser({}, poolTransport(dispatcher));
}
