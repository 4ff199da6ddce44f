import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDemoApp, DemoStore, SESSION_COOKIE, type DemoOptions } from '@sesame/bookstore-example';

/**
 * A deliberately small but real OIDC issuer over HTTP: discovery, JWKS, a token endpoint that
 * checks client_secret_basic, PKCE S256 and redirect_uri and signs RS256 ID tokens, userinfo
 * and refresh with rotation. It stands in for Sesame so that each answer (refusals, expiry, outages) can be staged.
 */
interface FakeIssuer {
  app: FastifyInstance;
  issuer: string;
  /** What Sesame's sign-in pages would do: approve the request and hand back a code. */
  approve(authorizationUrl: string, sub?: string): string;
  expireAccessTokens(): void;
  revokeRefreshTokens(): void;
  tokenRequests: Array<Record<string, string>>;
}

const CLIENT_ID = 'bookstore-client';
const CLIENT_SECRET = 'S3cretS3cretS3cretS3cretS3cret12';

async function startFakeIssuer(port = 0): Promise<FakeIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { challenge: string; redirectUri: string; sub: string }>();
  const accessTokens = new Map<string, string>();
  const refreshTokens = new Map<string, string>();
  const tokenRequests: Array<Record<string, string>> = [];
  const app = Fastify();
  await app.register(fastifyFormbody);
  // Known only once listening; every route reads it lazily.
  let issuer = '';

  const idToken = (sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${part({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${part({
      iss: issuer,
      sub,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 3600,
      email: `${sub}@example.com`,
      email_verified: true,
    })}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  };
  const issueTokens = (sub: string, withIdToken: boolean) => {
    const accessToken = randomBytes(16).toString('hex');
    const refreshToken = randomBytes(16).toString('hex');
    accessTokens.set(accessToken, sub);
    refreshTokens.set(refreshToken, sub);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: refreshToken,
      scope: 'openid profile email offline_access',
      ...(withIdToken ? { id_token: idToken(sub) } : {}),
    };
  };

  app.get('/oidc/.well-known/openid-configuration', async () => ({
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/me`,
    jwks_uri: `${issuer}/jwks`,
    end_session_endpoint: `${issuer}/session/end`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
  }));
  app.get('/oidc/jwks', async () => ({ keys: [jwk] }));
  app.post('/oidc/token', async (request, reply) => {
    const body = request.body as Record<string, string>;
    tokenRequests.push(body);
    // RFC 6749 2.3.1: id and secret are form-urlencoded before the Basic encoding.
    const basic = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
    const [id = '', secret = ''] = basic.split(':').map((part) => decodeURIComponent(part));
    if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return reply.code(401).send({ error: 'invalid_client' });
    if (body.grant_type === 'authorization_code') {
      const grant = codes.get(body.code ?? '');
      codes.delete(body.code ?? '');
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url');
      if (!grant || grant.challenge !== challenge || grant.redirectUri !== body.redirect_uri) {
        return reply.code(400).send({ error: 'invalid_grant', error_description: 'grant request is invalid' });
      }
      return issueTokens(grant.sub, true);
    }
    if (body.grant_type === 'refresh_token') {
      const sub = refreshTokens.get(body.refresh_token ?? '');
      if (!sub) return reply.code(400).send({ error: 'invalid_grant', error_description: 'grant request is invalid' });
      refreshTokens.delete(body.refresh_token ?? '');
      return issueTokens(sub, false);
    }
    return reply.code(400).send({ error: 'unsupported_grant_type' });
  });
  app.get('/oidc/me', async (request, reply) => {
    const sub = accessTokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!sub) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
    }
    return { sub, email: `${sub}@example.com`, email_verified: true };
  });

  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  issuer = `http://127.0.0.1:${address.port}/oidc`;

  return {
    app,
    issuer,
    tokenRequests,
    approve(authorizationUrl, sub = 'reader1') {
      const url = new URL(authorizationUrl);
      const code = randomBytes(12).toString('hex');
      codes.set(code, {
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
        sub,
      });
      return code;
    },
    expireAccessTokens: () => accessTokens.clear(),
    revokeRefreshTokens: () => refreshTokens.clear(),
  };
}

/** Just enough of a browser: remembers cookies between inject() calls. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(public app: FastifyInstance) {}

  async get(path: string): Promise<LightMyRequestResponse> {
    const response = await this.app.inject({ method: 'GET', url: path, cookies: Object.fromEntries(this.cookies) });
    for (const cookie of response.cookies as Array<{ name: string; value: string; expires?: Date; maxAge?: number }>) {
      const expired = cookie.value === '' || cookie.maxAge === 0 || (cookie.expires && cookie.expires.getTime() < Date.now());
      if (expired) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }
}

let dir: string;
let issuer: FakeIssuer | undefined;
const apps: FastifyInstance[] = [];
const stores: DemoStore[] = [];
const BASE_URL = 'http://localhost:3000';

function openStore(): DemoStore {
  const store = DemoStore.open(join(dir, 'demo.db'));
  stores.push(store);
  return store;
}

async function demo(overrides: Partial<DemoOptions> = {}): Promise<FastifyInstance> {
  const app = await buildDemoApp({
    baseUrl: BASE_URL,
    issuer: issuer?.issuer ?? 'http://127.0.0.1:9/oidc',
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    store: overrides.store ?? openStore(),
    ...overrides,
  });
  apps.push(app);
  return app;
}

async function signIn(browser: Browser, sub = 'reader1'): Promise<void> {
  const start = await browser.get('/sign-in');
  const authorizationUrl = new URL(start.headers.location as string);
  const code = issuer!.approve(authorizationUrl.href, sub);
  const state = authorizationUrl.searchParams.get('state') ?? '';
  const done = await browser.get(`/callback?code=${code}&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(issuer!.issuer)}`);
  expect(done.statusCode, done.body).toBe(303);
  expect(done.headers.location).toBe('/');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-demo-app-'));
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const store of stores.splice(0)) store.close();
  await issuer?.app.close();
  issuer = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('Bookstore demo against a discovery-only issuer', () => {
  beforeEach(async () => {
    issuer = await startFakeIssuer();
  });

  it('says the visitor is not logged in, with a Sign In link and its stylesheet', async () => {
    const browser = new Browser(await demo({ mailboxUrl: 'http://localhost:3001/dev/mail' }));
    const home = await browser.get('/');
    expect(home.statusCode).toBe(200);
    expect(home.headers['content-type']).toMatch(/^text\/html/);
    expect(home.body).toContain('You are not logged in to this website');
    expect(home.body).toMatch(/<a class="button" href="\/sign-in">Sign In<\/a>/);
    expect(home.body).toContain('href="http://localhost:3001/dev/mail" target="_blank" rel="noopener">Open the dev mailbox</a>');
    expect(home.headers['content-security-policy']).toContain("default-src 'none'");
    expect(browser.cookies.size).toBe(0); // no session stored for a mere visit

    const css = await browser.get('/bookstore.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.body).toContain('.button');
  });

  it('redirects /sign-in to the authorization endpoint with PKCE S256, state and a session cookie', async () => {
    const browser = new Browser(await demo());
    const response = await browser.get('/sign-in');
    expect([302, 303]).toContain(response.statusCode);
    const location = new URL(response.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(`${issuer!.issuer}/auth`);
    const params = location.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe('http://localhost:3000/callback');
    expect(params.get('scope')).toBe('openid profile email offline_access');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('prompt')).toBe('consent');

    const setCookie = String(response.headers['set-cookie']);
    expect(setCookie).toContain(`${SESSION_COOKIE}=`);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).not.toMatch(/;\s*Secure/i);
    expect(setCookie).toMatch(/Max-Age=604800|Expires=/i);
    // Nothing but a signed session id goes into the cookie.
    expect(setCookie).not.toContain(params.get('state')!);
  });

  it('marks the session cookie Secure when the demo is served over https', async () => {
    const app = await demo({ baseUrl: 'https://books.example.com' });
    const response = await app.inject({ method: 'GET', url: '/sign-in', headers: { 'x-forwarded-proto': 'https' } });
    expect(new URL(response.headers.location as string).searchParams.get('redirect_uri')).toBe(
      'https://books.example.com/callback',
    );
    expect(String(response.headers['set-cookie'])).toMatch(/;\s*Secure/i);
  });

  it('shows a readable page when the user cancelled at Sesame', async () => {
    const browser = new Browser(await demo());
    const start = await browser.get('/sign-in');
    const state = new URL(start.headers.location as string).searchParams.get('state')!;
    const response = await browser.get(
      `/callback?error=access_denied&error_description=${encodeURIComponent('End-User aborted interaction')}&state=${encodeURIComponent(state)}`,
    );
    expect(response.statusCode).toBeLessThan(500);
    expect(response.body).toContain('You cancelled the sign-in');
    expect(response.body).toContain('access_denied');
    // The cancel sentence says it all; Sesame's description is not repeated under it.
    expect(response.body).not.toContain('End-User aborted interaction');
    expect(response.body).toContain('href="/"');
    expect(response.body).not.toMatch(/at \w+ \(|Error:/);
  });

  it('ignores a callback whose state does not match, with a readable error', async () => {
    const browser = new Browser(await demo());
    await browser.get('/sign-in');
    const response = await browser.get('/callback?code=abc&state=not-the-state');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('state_mismatch');
    expect(response.body).toContain('does not match');
    expect(response.body).toContain('href="/"');
    expect(issuer!.tokenRequests).toHaveLength(0);

    const noSession = await new Browser(browser.app).get('/callback?code=abc&state=whatever');
    expect(noSession.statusCode).toBe(400);
    expect(noSession.body).toContain('Please sign in again');
  });

  it('escapes what comes back in the query string', async () => {
    const browser = new Browser(await demo());
    const start = await browser.get('/sign-in');
    const state = new URL(start.headers.location as string).searchParams.get('state')!;
    const response = await browser.get(
      `/callback?error=${encodeURIComponent('<script>x</script>')}&error_description=${encodeURIComponent('<img src=x>')}&state=${state}`,
    );
    expect(response.statusCode).toBe(400);
    expect(response.body).not.toContain('<script>x');
    expect(response.body).not.toContain('<img src=x>');
    expect(response.body).toContain('&lt;script&gt;');
  });

  it('does not take an error code for a message when it names an Object property', async () => {
    const browser = new Browser(await demo());
    const start = await browser.get('/sign-in');
    const state = new URL(start.headers.location as string).searchParams.get('state')!;
    const response = await browser.get(`/callback?error=constructor&state=${state}`);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('Sesame could not sign you in.');
    expect(response.body).not.toContain('function Object');
  });

  it('shows a readable error when the code exchange is refused', async () => {
    const browser = new Browser(await demo());
    const start = await browser.get('/sign-in');
    const state = new URL(start.headers.location as string).searchParams.get('state')!;
    const response = await browser.get(`/callback?code=never-issued&state=${state}`);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('invalid_grant');
    expect(response.body).toContain('Sign-in failed');
  });

  it('signs in, keeps tokens server-side across a restart, refreshes, and signs out at the issuer', async () => {
    const file = join(dir, 'demo.db');
    const store = DemoStore.open(file);
    const browser = new Browser(await demo({ store }));
    await signIn(browser);
    const exchange = issuer!.tokenRequests[0]!;
    expect(exchange.grant_type).toBe('authorization_code');
    expect(exchange.redirect_uri).toBe('http://localhost:3000/callback');
    expect(exchange.code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);

    let home = await browser.get('/');
    expect(home.body).toContain('You are logged in');
    expect(home.body).toContain('reader1@example.com');
    expect(home.body).toContain('<code>sub</code>');
    expect(home.body).toContain('href="/profile"');
    expect(home.body).toMatch(/href="\/sign-out">Sign Out</);
    expect(home.headers['cache-control']).toBe('no-store');
    for (const value of browser.cookies.values()) expect(value.length).toBeLessThan(200);

    // A restart: same SQLite file, new app instance; the visitor is still signed in.
    await browser.app.close();
    store.close();
    const reopened = openStore();
    expect(reopened.getSetting('session_secret')).toBeTruthy();
    browser.app = await demo({ store: reopened });
    home = await browser.get('/');
    expect(home.body).toContain('You are logged in');

    const profile = await browser.get('/profile');
    expect(profile.statusCode).toBe(200);
    expect(profile.body).toContain('reader1@example.com');
    expect(profile.body).toContain('email_verified');

    issuer!.expireAccessTokens();
    const refreshed = await browser.get('/profile');
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.body).toContain('reader1@example.com');
    expect(issuer!.tokenRequests.map((request) => request.grant_type)).toEqual(['authorization_code', 'refresh_token']);

    const signOut = await browser.get('/sign-out');
    expect([302, 303]).toContain(signOut.statusCode);
    const end = new URL(signOut.headers.location as string);
    expect(`${end.origin}${end.pathname}`).toBe(`${issuer!.issuer}/session/end`);
    expect(end.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe('http://localhost:3000/');
    expect(end.searchParams.get('id_token_hint')).toMatch(/^ey/);
    home = await browser.get('/');
    expect(home.body).toContain('You are not logged in to this website');
  });

  it('asks to sign in again when the refresh token is no longer accepted', async () => {
    const browser = new Browser(await demo());
    await signIn(browser);
    issuer!.expireAccessTokens();
    issuer!.revokeRefreshTokens();
    const profile = await browser.get('/profile');
    expect(profile.statusCode).toBe(401);
    expect(profile.body).toContain('please sign in again');
    expect((await browser.get('/')).body).toContain('You are not logged in to this website');
  });

  it('sends a signed-out visitor from /profile back home', async () => {
    const browser = new Browser(await demo());
    const response = await browser.get('/profile');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/');
  });

  it('renders unknown paths as a page, not JSON', async () => {
    const browser = new Browser(await demo());
    const response = await browser.get('/nope');
    expect(response.statusCode).toBe(404);
    expect(response.body).toContain('Page not found');
  });
});

describe('Bookstore demo in the visitor’s language', () => {
  beforeEach(async () => {
    issuer = await startFakeIssuer();
  });

  it('speaks the browser’s language, right to left for Arabic, and passes nothing to Sesame unasked', async () => {
    const app = await demo();
    const german = await app.inject({ method: 'GET', url: '/', headers: { 'accept-language': 'it, de-AT;q=0.9, en;q=0.5' } });
    expect(german.body).toContain('<html lang="de" dir="ltr">');
    expect(german.body).toContain('Sie sind auf dieser Website nicht angemeldet');
    const arabic = await app.inject({ method: 'GET', url: '/', headers: { 'accept-language': 'ar-EG' } });
    expect(arabic.body).toContain('<html lang="ar" dir="rtl">');
    const junk = await app.inject({ method: 'GET', url: '/', headers: { 'accept-language': ';q=;;,,*' } });
    expect(junk.statusCode).toBe(200);
    expect(junk.body).toContain('<html lang="en" dir="ltr">');
    const signIn = await app.inject({ method: 'GET', url: '/sign-in', headers: { 'accept-language': 'ja' } });
    expect(new URL(signIn.headers.location as string).searchParams.has('ui_locales')).toBe(false);
    const missing = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'accept-language': 'fr' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('Page introuvable');
  });

  it('remembers the language picked on its switcher and asks Sesame for it with ui_locales', async () => {
    const browser = new Browser(await demo());
    const home = await browser.get('/');
    expect(home.body).toContain('href="/language/ja?return=/"');
    const picked = await browser.get('/language/ja?return=/');
    expect(picked.statusCode).toBe(303);
    expect(picked.headers.location).toBe('/');
    expect(browser.cookies.get('bookstore_lang')).toBe('ja');
    expect((await browser.get('/')).body).toContain('このウェブサイトにはサインインしていません');
    const signIn = await browser.get('/sign-in');
    expect(new URL(signIn.headers.location as string).searchParams.get('ui_locales')).toBe('ja');
    // Never back to another site (the pick itself still counts), and an unknown language changes nothing.
    expect((await browser.get('/language/de?return=//evil.example/')).headers.location).toBe('/');
    expect(browser.cookies.get('bookstore_lang')).toBe('de');
    expect((await browser.get('/language/klingon?return=/profile')).headers.location).toBe('/profile');
    expect(browser.cookies.get('bookstore_lang')).toBe('de');
  });

  it('has every phrase in every language, with the same values', async () => {
    const { readFileSync } = await import('node:fs');
    const read = (language: string) => JSON.parse(readFileSync(new URL(`../../examples/bookstore/locales/${language}.json`, import.meta.url), 'utf8')) as Record<string, string>;
    const english = read('en');
    const names = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
    for (const language of ['de', 'fr', 'es', 'ja', 'zh-CN', 'ar']) {
      const phrases = read(language);
      expect(Object.keys(phrases).sort(), language).toEqual(Object.keys(english).sort());
      for (const [source, text] of Object.entries(phrases)) {
        expect(names(text), `${language}: ${source}`).toEqual(names(source));
        // Only names stay as they are (and "Claim", a technical term German, French and Spanish keep).
        if (source !== 'Bookstore' && source !== 'Claim') expect(text, `${language}: ${source}`).not.toBe(source);
      }
    }
  });
});

describe('Bookstore demo when Sesame is not up yet', () => {
  it('does not discover at build time and retries discovery on the next request', async () => {
    const probe = Fastify();
    await probe.listen({ port: 0, host: '127.0.0.1' });
    const port = (probe.server.address() as { port: number }).port;
    await probe.close();

    const browser = new Browser(await demo({ issuer: `http://127.0.0.1:${port}/oidc` }));
    expect((await browser.get('/')).statusCode).toBe(200);
    const down = await browser.get('/sign-in');
    expect(down.statusCode).toBe(503);
    expect(down.body).toContain('Sesame is not reachable');

    issuer = await startFakeIssuer(port);
    const up = await browser.get('/sign-in');
    expect(up.statusCode).toBe(303);
    expect(up.headers.location).toContain(`http://127.0.0.1:${port}/oidc/auth?`);
  });
});
