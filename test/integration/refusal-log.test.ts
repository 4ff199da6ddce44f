import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as client from 'openid-client';
import LogtoClient from '@logto/node';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { authorizeSignedIn, signedInBrowser } from '../helpers/session.ts';
import { MemoryStorage } from '../helpers/logto.ts';
import { createResource } from '../../src/management/resources.ts';
import type { Application } from '../../src/db/applications.ts';
import { describeOidcError } from '../../src/oidc/errors.ts';
import { render } from '../../src/i18n/index.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const POST_LOGOUT = 'http://127.0.0.1:9/';
const API = 'https://api.example.com';
/**
 * An API nobody registered. (The Logto Go sample's RESOURCES example, https://default.logto.app/api,
 * now names Sesame's management API: management-auth.test.ts covers how sign-in refuses it.)
 */
const LOGTO_SAMPLE_API = 'https://unregistered.example.com/api';
const EMAIL = 'operator-reads-logs@example.com';

interface LogLine {
  level: number;
  msg: string;
  oidc_refusal?: Record<string, unknown> & { error: string; client_id?: string; endpoint: string };
}

const INFO = 30;
const WARN = 40;

/**
 * Every refusal by the OIDC layer is logged once, with the error code, the client id, the endpoint
 * and oidc-provider's reason, and never with a secret, code or token: each provoked by a real client.
 */
describe('refusals are logged once with their reason', () => {
  let sesame: TestSesame;
  let app: Application;
  let oidc: client.Configuration;
  const lines: LogLine[] = [];
  let raw = '';
  /** Every secret, code and token value seen by the tests: none may appear in the log. */
  const secrets: string[] = [];

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        const text = chunk.toString();
        raw += text;
        for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    sesame = await startTestSesame({ sesame: { logger: { level: 'info', stream } } });
    app = await sesame.registerApp({ redirectUris: [REDIRECT], postLogoutRedirectUris: [POST_LOGOUT] });
    secrets.push(app.secret);
    await createResource(sesame.db, { indicator: API, name: 'Example API', scopes: ['read:books'], accessTokenTtl: 600 });
    oidc = await discover(sesame.issuer, app);
    // @logto/node prints every non-2xx answer to console.error; the refusals below are on purpose.
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await sesame?.stop();
  });

  /** Runs `provoke`, then returns the refusal lines it caused (waiting for the first, then a little more). */
  async function refusalsOf(provoke: () => Promise<unknown>): Promise<LogLine[]> {
    const from = lines.length;
    await provoke();
    const refusals = () => lines.slice(from).filter((line) => line.oidc_refusal);
    for (let waited = 0; refusals().length === 0 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    return refusals();
  }

  async function oneRefusal(provoke: () => Promise<unknown>): Promise<LogLine & { oidc_refusal: NonNullable<LogLine['oidc_refusal']> }> {
    const found = await refusalsOf(provoke);
    expect(found.map((line) => line.msg)).toHaveLength(1);
    return found[0] as LogLine & { oidc_refusal: NonNullable<LogLine['oidc_refusal']> };
  }

  function authorizeUrl(params: Record<string, string>): string {
    const url = new URL(`${sesame.issuer}/auth`);
    for (const [key, value] of Object.entries({ response_type: 'code', scope: 'openid', state: 'st4te', ...params })) url.searchParams.set(key, value);
    return url.toString();
  }

  async function get(url: string): Promise<Response> {
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    await response.text();
    return response;
  }

  async function pkce(): Promise<{ verifier: string; challenge: string }> {
    const verifier = client.randomPKCECodeVerifier();
    secrets.push(verifier);
    return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier) };
  }

  async function token(form: Record<string, string>, auth = `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`) {
    const response = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  /** Where Sesame sends a signed-in person back for the app's request `url`; the code is noted as a secret. */
  async function signedInCallback(url: string): Promise<string> {
    const callback = await authorizeSignedIn((await signedInBrowser(sesame, EMAIL)).browser, url, REDIRECT);
    const code = new URL(callback).searchParams.get('code');
    if (!code) throw new Error(`no code in ${callback}`);
    secrets.push(code);
    return callback;
  }

  it('logs a bad redirect_uri with the URI the app sent, and the page says it in plain words', async () => {
    const { challenge } = await pkce();
    let page = '';
    const line = await oneRefusal(async () => {
      const response = await fetch(
        authorizeUrl({ client_id: app.id, redirect_uri: 'http://localhost:3000/callback', code_challenge: challenge, code_challenge_method: 'S256' }),
        { headers: { accept: 'text/html' } },
      );
      expect(response.status).toBe(400);
      page = await response.text();
    });
    expect(page).toContain('Unregistered return address');
    expect(line.level).toBe(WARN);
    expect(line.oidc_refusal).toMatchObject({
      endpoint: 'authorization',
      error: 'invalid_redirect_uri',
      client_id: app.id,
      redirect_uri: 'http://localhost:3000/callback',
      error_description: expect.stringContaining('redirect_uri'),
    });
    expect(line.msg).toContain('invalid_redirect_uri');
    expect(line.msg).toContain(app.id);
    expect(line.msg).toContain('http://localhost:3000/callback');
  });

  it('logs one line when a bad redirect_uri comes with another mistake (oidc-provider reports both)', async () => {
    // An unsupported response_type is found before the redirect_uri is checked; oidc-provider then
    // checks it anyway and emits a second error for the same request. One line: what the app was
    // told, with the earlier error beside it.
    const { challenge } = await pkce();
    const line = await oneRefusal(() =>
      get(authorizeUrl({ client_id: app.id, response_type: 'token', redirect_uri: 'http://localhost:3000/callback', code_challenge: challenge, code_challenge_method: 'S256' })),
    );
    expect(line.oidc_refusal).toMatchObject({
      error: 'invalid_redirect_uri',
      client_id: app.id,
      also: [{ error: 'unsupported_response_type' }],
    });
  });

  it('logs an unregistered post_logout_redirect_uri with the URI the app sent', async () => {
    const line = await oneRefusal(async () => {
      const response = await get(`${sesame.issuer}/session/end?${new URLSearchParams({ client_id: app.id, post_logout_redirect_uri: 'http://127.0.0.1:9' })}`);
      expect(response.status).toBe(400);
    });
    expect(line.oidc_refusal).toMatchObject({
      endpoint: 'end_session',
      error: 'invalid_request',
      error_description: 'post_logout_redirect_uri not registered',
      client_id: app.id,
      post_logout_redirect_uri: 'http://127.0.0.1:9',
    });
    expect(line.msg).toContain('post_logout_redirect_uri not registered');
    expect(line.msg).toContain(app.id);
  });

  it('logs an unknown client_id at authorization and at the token endpoint', async () => {
    const { challenge } = await pkce();
    const atAuth = await oneRefusal(() => get(authorizeUrl({ client_id: 'no-such-app', redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' })));
    expect(atAuth.oidc_refusal).toMatchObject({ endpoint: 'authorization', error: 'invalid_client', error_detail: 'client not found', client_id: 'no-such-app' });
    expect(atAuth.msg).toContain('no-such-app');

    const wrongSecret = 'NotTheSecret123';
    secrets.push(wrongSecret);
    const atToken = await oneRefusal(async () => {
      const answer = await token({ grant_type: 'refresh_token', refresh_token: 'whatever-refresh-value' }, `Basic ${Buffer.from(`no-such-app:${wrongSecret}`).toString('base64')}`);
      expect(answer.status).toBe(401);
    });
    expect(atToken.oidc_refusal).toMatchObject({ endpoint: 'token', error: 'invalid_client', error_detail: 'client not found', client_id: 'no-such-app', grant_type: 'refresh_token' });
  });

  it('logs a wrong client secret and a wrong authentication method as invalid_client with the cause', async () => {
    const wrongSecret = 'WrongSecret987654321';
    secrets.push(wrongSecret);
    const bad = await oneRefusal(async () => {
      const answer = await token({ grant_type: 'refresh_token', refresh_token: 'whatever-refresh-value' }, `Basic ${Buffer.from(`${app.id}:${wrongSecret}`).toString('base64')}`);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
    });
    expect(bad.level).toBe(WARN);
    expect(bad.oidc_refusal).toMatchObject({ endpoint: 'token', error: 'invalid_client', error_detail: 'invalid secret provided', client_id: app.id });
    expect(bad.msg).toContain('invalid secret provided');

    // No secret at all (a public-client request) for an app registered with client_secret_basic.
    const method = await oneRefusal(async () => {
      const response = await fetch(`${sesame.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'whatever-refresh-value', client_id: app.id }),
      });
      expect(response.status).toBe(401);
    });
    expect(method.oidc_refusal).toMatchObject({ error: 'invalid_client', client_id: app.id });
    expect(String(method.oidc_refusal.error_detail)).toMatch(/authentication mechanism does not match/);
  });

  it('logs a missing PKCE challenge at authorization as invalid_request with the reason', async () => {
    const line = await oneRefusal(async () => {
      const response = await get(authorizeUrl({ client_id: app.id, redirect_uri: REDIRECT }));
      expect(response.status).toBe(303);
      expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    });
    expect(line.oidc_refusal).toMatchObject({ endpoint: 'authorization', error: 'invalid_request', client_id: app.id, redirect_uri: REDIRECT });
    expect(String(line.oidc_refusal.error_description)).toMatch(/PKCE/);
  });

  it('logs invalid_grant with its real cause: wrong PKCE verifier, then a reused code', async () => {
    const start = await startAuthorization(oidc, REDIRECT);
    secrets.push(start.verifier);
    const code = new URL(await signedInCallback(start.url)).searchParams.get('code')!;

    const { verifier: wrongVerifier } = await pkce();
    const wrong = await oneRefusal(async () => {
      const answer = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: wrongVerifier });
      expect(answer.body.error).toBe('invalid_grant');
    });
    expect(wrong.oidc_refusal).toMatchObject({
      endpoint: 'token',
      grant_type: 'authorization_code',
      error: 'invalid_grant',
      error_detail: 'code_verifier does not match code_challenge',
      client_id: app.id,
    });
    expect(wrong.msg).toContain('code_verifier does not match code_challenge');

    const first = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: start.verifier });
    expect(first.status).toBe(200);
    secrets.push(first.body.access_token!, first.body.refresh_token!, first.body.id_token!);

    const reused = await oneRefusal(async () => {
      const answer = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: start.verifier });
      expect(answer.body.error).toBe('invalid_grant');
    });
    expect(reused.oidc_refusal).toMatchObject({ endpoint: 'token', error: 'invalid_grant', client_id: app.id });
    expect(String(reused.oidc_refusal.error_detail)).toMatch(/authorization code (already consumed|not found)/);
  });

  it('logs login_required (prompt=none without a session) at info', async () => {
    const { challenge } = await pkce();
    const line = await oneRefusal(async () => {
      const response = await get(authorizeUrl({ client_id: app.id, redirect_uri: REDIRECT, prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
      expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    });
    expect(line.level).toBe(INFO);
    expect(line.oidc_refusal).toMatchObject({ endpoint: 'authorization', error: 'login_required', client_id: app.id });
    expect(line.msg).toContain('login_required');
  });

  it('logs invalid_target at authorization naming the resource and the command that registers it', async () => {
    const { challenge } = await pkce();
    let location: URL | undefined;
    const line = await oneRefusal(async () => {
      const response = await get(
        authorizeUrl({ client_id: app.id, redirect_uri: REDIRECT, resource: LOGTO_SAMPLE_API, code_challenge: challenge, code_challenge_method: 'S256' }),
      );
      location = new URL(response.headers.get('location')!);
    });
    expect(location?.searchParams.get('error')).toBe('invalid_target');
    const command = `sesame resource create --indicator ${LOGTO_SAMPLE_API}`;
    // The app is told the same words the operator reads.
    expect(location?.searchParams.get('error_description')).toContain(command);
    expect(line.level).toBe(WARN);
    expect(line.oidc_refusal).toMatchObject({ endpoint: 'authorization', error: 'invalid_target', client_id: app.id, resource: LOGTO_SAMPLE_API });
    expect(line.msg).toContain(LOGTO_SAMPLE_API);
    expect(line.msg).toContain(command);

    // Where a person sees it (the error page renderError draws), the words are the same.
    const page = describeOidcError('invalid_target', location?.searchParams.get('error_description') ?? undefined);
    expect(render(page.title, 'en')).toBe('Unknown API');
    expect(render(page.message, 'en')).toContain(LOGTO_SAMPLE_API);
    expect(render(page.message, 'en')).toContain(command);
  });

  it('logs the refresh refusals that @logto/node getAccessToken swallows: invalid_target, then invalid_grant', async () => {
    const storage = new MemoryStorage();
    const navigations: string[] = [];
    const logto = new LogtoClient(
      { endpoint: sesame.config.endpoint, appId: app.id, appSecret: app.secret, resources: [API], scopes: ['read:books'] },
      { storage, navigate: (url) => void navigations.push(url) },
    );
    await logto.signIn(REDIRECT);
    await logto.handleSignInCallback(await signedInCallback(navigations.pop()!));
    const refreshToken = (await logto.getRefreshToken())!;
    secrets.push(refreshToken, (await logto.getIdToken())!);

    const target = await oneRefusal(() => expect(logto.getAccessToken(LOGTO_SAMPLE_API)).rejects.toThrow());
    expect(target.level).toBe(WARN);
    expect(target.oidc_refusal).toMatchObject({
      endpoint: 'token',
      grant_type: 'refresh_token',
      error: 'invalid_target',
      client_id: app.id,
      resource: LOGTO_SAMPLE_API,
    });
    expect(target.msg).toContain(`${LOGTO_SAMPLE_API} was not requested at sign-in`);
    expect(target.msg).toContain(`sesame resource create --indicator ${LOGTO_SAMPLE_API}`);
    expect(await logto.getRefreshToken()).toBe(refreshToken);

    // What @logto/express's withLogto({ getAccessToken: true, resource }) does: getContext swallows the
    // error and the app sees only isAuthenticated: false. It asks twice (getAccessToken, then
    // getAccessTokenClaims): two refused requests, one line each, both with the reason.
    const from = lines.length;
    const swallowed = await refusalsOf(async () => {
      const context = await logto.getContext({ getAccessToken: true, resource: LOGTO_SAMPLE_API });
      expect(context).toEqual({ isAuthenticated: false });
    });
    const tokenRequests = lines.slice(from).filter((line) => line.msg === 'incoming request' && /\/oidc\/token/.test(JSON.stringify(line)));
    expect(swallowed.length).toBe(2);
    expect(tokenRequests.length).toBe(swallowed.length);
    for (const line of swallowed) expect(line.oidc_refusal).toMatchObject({ error: 'invalid_target', client_id: app.id, resource: LOGTO_SAMPLE_API });

    // The refresh token is used elsewhere (another instance of the app, a copied session): the SDK's
    // copy is now a reused token, and oidc-provider says so.
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(rotated.status).toBe(200);
    secrets.push(rotated.body.access_token!, rotated.body.refresh_token!, rotated.body.id_token!);
    const grant = await oneRefusal(() => expect(logto.getAccessToken(API)).rejects.toThrow());
    expect(grant.oidc_refusal).toMatchObject({ endpoint: 'token', grant_type: 'refresh_token', error: 'invalid_grant', client_id: app.id });
    expect(String(grant.oidc_refusal.error_detail)).toMatch(/refresh token (already used|not found)/);
    expect(grant.msg).toContain(String(grant.oidc_refusal.error_detail));
  });

  it('never writes a secret, code, verifier or token value to the log, and logs each refusal once', () => {
    expect(raw.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(raw.includes(secret), `log contains a secret value (${secret.slice(0, 4)}...)`).toBe(false);
    }
    // Fastify's own request lines are separate; refusal lines are the only ones with oidc_refusal.
    expect(lines.filter((line) => line.oidc_refusal).length).toBeGreaterThanOrEqual(13);
  });
});
