import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { oidcBudgets } from '../../src/http/oidc-rate-limits.ts';

const PER_MINUTE = 40;

interface Hit {
  status: number;
  headers: Headers;
  body: string;
}

async function hit(url: string, init: RequestInit = {}): Promise<Hit> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Sends `count` requests one after the other and returns their statuses. */
async function hammer(count: number, send: (i: number) => Promise<Hit>): Promise<{ statuses: number[]; last: Hit }> {
  const statuses: number[] = [];
  let last: Hit | undefined;
  for (let i = 0; i < count; i += 1) {
    last = await send(i);
    statuses.push(last.status);
  }
  return { statuses, last: last! };
}

const tokenRequest = (issuer: string) => () =>
  hit(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('nobody:nothing').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'whatever' }),
  });

describe('per-IP budgets under /oidc', () => {
  const budgets = oidcBudgets(PER_MINUTE);
  let sesame: TestSesame;

  beforeAll(async () => {
    sesame = await startTestSesame({ env: { RATE_LIMIT_PER_MINUTE: String(PER_MINUTE) } });
  });
  afterAll(async () => sesame?.stop());

  it('derives the budgets from RATE_LIMIT_PER_MINUTE: generous for metadata, tighter for auth and token', () => {
    expect(budgets).toEqual({ metadata: 40, token: 20, auth: 8, other: 20 });
    expect(oidcBudgets(600)).toEqual({ metadata: 600, token: 300, auth: 120, other: 300 });
  });

  it('lets discovery and JWKS share a generous budget, then answers 429 JSON with Retry-After', async () => {
    const { statuses } = await hammer(budgets.metadata, (i) =>
      hit(i % 2 ? `${sesame.issuer}/jwks` : `${sesame.issuer}/.well-known/openid-configuration`),
    );
    expect(statuses.every((status) => status === 200)).toBe(true);
    for (const url of [`${sesame.issuer}/jwks`, `${sesame.issuer}/.well-known/openid-configuration`]) {
      const refused = await hit(url);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('content-type')).toContain('application/json');
      expect(JSON.parse(refused.body)).toEqual({ error: 'rate_limited', error_description: expect.stringMatching(/retry in \d+ s/) });
    }
  });

  it('gives the token endpoint its own tighter budget, answered in OAuth JSON past it', async () => {
    const { statuses } = await hammer(budgets.token, tokenRequest(sesame.issuer));
    expect(statuses.every((status) => status === 401)).toBe(true);
    const refused = await tokenRequest(sesame.issuer)();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'rate_limited' });
  });

  it('limits the authorization endpoint tightest, with a readable page carrying the security headers', async () => {
    const { statuses } = await hammer(budgets.auth, () => hit(`${sesame.issuer}/auth?client_id=nobody`, { headers: { accept: 'text/html' } }));
    expect(statuses.every((status) => status === 400)).toBe(true);
    const refused = await hit(`${sesame.issuer}/auth?client_id=nobody`, { headers: { accept: 'text/html' } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('content-type')).toContain('text/html');
    expect(refused.body).toContain('Too many requests');
    expect(refused.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(refused.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it('has a budget for everything else (userinfo, introspection, revocation, session/end)', async () => {
    const urls = ['/me', '/token/introspection', '/token/revocation', '/session/end'];
    const { statuses } = await hammer(budgets.other, (i) => {
      const path = urls[i % urls.length]!;
      return hit(`${sesame.issuer}${path}`, path.startsWith('/token/') ? { method: 'POST' } : {});
    });
    expect(statuses).not.toContain(429);
    const userinfo = await hit(`${sesame.issuer}/me`);
    expect(userinfo.status).toBe(429);
    expect(JSON.parse(userinfo.body)).toMatchObject({ error: 'rate_limited' });
    const signOut = await hit(`${sesame.issuer}/session/end`, { headers: { accept: 'text/html' } });
    expect(signOut.status).toBe(429);
    expect(signOut.headers.get('content-type')).toContain('text/html');
    expect(signOut.body).toContain('Too many requests');
  });

  it('keeps Sesame’s own pages on their own budget', async () => {
    expect((await hit(`${sesame.config.endpoint}/`)).status).toBe(200);
  });
});

describe('the issue’s probe at the default RATE_LIMIT_PER_MINUTE', () => {
  let sesame: TestSesame;
  beforeAll(async () => {
    sesame = await startTestSesame();
  });
  afterAll(async () => sesame?.stop());

  it.each([
    { name: 'discovery', send: (issuer: string) => hit(`${issuer}/.well-known/openid-configuration`) },
    { name: 'jwks', send: (issuer: string) => hit(`${issuer}/jwks`) },
    { name: 'auth', send: (issuer: string) => hit(`${issuer}/auth?client_id=nobody`) },
    { name: 'token', send: (issuer: string) => tokenRequest(issuer)() },
  ])('answers 429 within 700 requests to $name', async ({ name, send }) => {
    const budget = oidcBudgets(600)[name === 'discovery' || name === 'jwks' ? 'metadata' : (name as 'auth' | 'token')];
    let first429 = -1;
    for (let i = 0; i < 700 && first429 < 0; i += 1) if ((await send(sesame.issuer)).status === 429) first429 = i;
    // discovery and JWKS share one budget: JWKS runs after discovery spent it.
    expect(first429).toBe(name === 'jwks' ? 0 : budget);
  });
});
