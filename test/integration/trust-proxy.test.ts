import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser } from '../helpers/browser.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const CAP = 3;

/**
 * The test client connects from 127.0.0.1, playing the reverse proxy. The proxy appends the address
 * it saw (the real client) to whatever X-Forwarded-For the client sent, so a client can forge the
 * entries before the last one, never the last one.
 */
describe.each([
  { trustProxy: '1', what: 'a hop count' },
  { trustProxy: 'true', what: '`true` (one hop)' },
  { trustProxy: '127.0.0.1', what: 'the proxy’s address' },
  { trustProxy: '127.0.0.0/8', what: 'the proxy’s CIDR' },
])('TRUST_PROXY=$trustProxy ($what)', ({ trustProxy }) => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let counter = 0;

  beforeAll(async () => {
    sesame = await startSesameWithMail({ env: { TRUST_PROXY: trustProxy, CODE_SENDS_PER_IP: String(CAP) } });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());

  /** Asks for a code for a fresh address, with the X-Forwarded-For the proxy passes on. */
  async function askForCode(forwardedFor: string): Promise<number> {
    const browser = new HttpBrowser({ 'x-forwarded-for': forwardedFor });
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    const page = await browser.submit(emailPage, '/email', { email: `proxied${++counter}.${Date.now()}@example.com` });
    if (page.status === 429) expect(page.body.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ")).toContain("Too many codes were requested");
    return page.status;
  }

  it('keys the per-IP code cap on the address the proxy saw, whatever the client forged before it', async () => {
    const statuses: number[] = [];
    for (let n = 1; n <= CAP + 2; n += 1) statuses.push(await askForCode(`203.0.113.${n}, 198.51.100.7`));
    expect(statuses).toEqual([...Array(CAP).fill(200), 429, 429]);
  });

  it('gives another real client its own budget', async () => {
    expect(await askForCode('198.51.100.8')).toBe(200);
    expect(await askForCode('203.0.113.77, 198.51.100.8')).toBe(200);
  });

  it('answers discovery as ENDPOINT whatever X-Forwarded-Host and -Proto say', async () => {
    const response = await fetch(`${sesame.issuer}/.well-known/openid-configuration`, {
      headers: { 'x-forwarded-for': '198.51.100.9', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    });
    const metadata = (await response.json()) as Record<string, string>;
    expect(metadata.issuer).toBe(sesame.issuer);
    expect(metadata.authorization_endpoint).toBe(`${sesame.issuer}/auth`);
    expect(metadata.jwks_uri).toBe(`${sesame.issuer}/jwks`);
  });
});

describe('the issue’s probe: TRUST_PROXY=1 and `203.0.113.N, 127.0.0.1`', () => {
  it('trips the per-IP cap at CODE_SENDS_PER_IP', async () => {
    const sesame = await startSesameWithMail({ env: { TRUST_PROXY: '1', CODE_SENDS_PER_IP: String(CAP) } });
    try {
      const config = await discover(sesame.issuer, await sesame.registerApp());
      const statuses: number[] = [];
      for (let n = 1; n <= CAP + 1; n += 1) {
        const browser = new HttpBrowser({ 'x-forwarded-for': `203.0.113.${n}, 127.0.0.1` });
        const emailPage = await browser.follow((await startAuthorization(config, REDIRECT)).url);
        statuses.push((await browser.submit(emailPage, '/email', { email: `probe${n}.${Date.now()}@example.com` })).status);
      }
      expect(statuses).toEqual([...Array(CAP).fill(200), 429]);
    } finally {
      await sesame.stop();
    }
  });
});
