import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createHash, randomBytes } from 'node:crypto';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { authorizeSignedIn, signedInBrowser } from '../helpers/session.ts';
import { asBrowserSends, decodeJwt, goBasicAuth, goUnescapedUrl, verifyJwt } from '../helpers/logto.ts';
import { createResource } from '../../src/management/resources.ts';
import { replaceUserCustomData } from '../../src/db/user-custom-data.ts';
import type { Application } from '../../src/db/applications.ts';

// The Logto Go SDK gin sample's addresses.
const REDIRECT = 'http://localhost:8080/sign-in-callback';
const POST_LOGOUT = 'http://localhost:8080';
const API = 'https://api.example.com';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  end_session_endpoint: string;
  revocation_endpoint: string;
  jwks_uri: string;
}

type Jwks = { keys: Record<string, unknown>[] };

/** What the Go SDK sends, request by request, written with undici so nothing is normalised for us. */
describe('the Logto Go SDK on the wire', () => {
  let sesame: TestSesame;
  let app: Application;
  let discovery: Discovery;
  let jwks: Jwks;

  beforeAll(async () => {
    sesame = await startTestSesame();
    app = await sesame.registerApp({ redirectUris: [REDIRECT], postLogoutRedirectUris: [POST_LOGOUT] });
    await createResource(sesame.db, { indicator: API, name: 'Example API', scopes: ['read:books'], accessTokenTtl: 900 });
  });
  afterAll(() => sesame?.stop());

  async function getJson(url: string, headers: Record<string, string> = {}) {
    const response = await request(url, { headers });
    return { status: response.statusCode, type: String(response.headers['content-type']), body: (await response.body.json()) as Record<string, unknown> };
  }

  async function postForm(url: string, form: Record<string, string>, authorization?: string) {
    // Go's url.Values.Encode: keys sorted, form-encoded.
    const body = new URLSearchParams(Object.entries(form).sort(([a], [b]) => (a < b ? -1 : 1))).toString();
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body,
    });
    const text = await response.body.text();
    return { status: response.statusCode, type: String(response.headers['content-type']), text, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  /** client.SignIn: Go's GenerateSignInUri with the sample's config plus one API resource. */
  function goSignInUri(extra: { scopes?: string[]; resources?: string[] } = {}) {
    const verifier = randomBytes(64).toString('base64url'); // 86 characters, like the SDK's
    const state = randomBytes(32).toString('base64url');
    const scopes = ['openid', 'offline_access', 'profile', ...(extra.scopes ?? [])];
    const raw = goUnescapedUrl(discovery.authorization_endpoint, [
      ['client_id', app.id],
      ['redirect_uri', REDIRECT],
      ['code_challenge', createHash('sha256').update(verifier).digest('base64url')],
      ['code_challenge_method', 'S256'],
      ['state', state],
      ['scope', scopes.join(' ')],
      ...(extra.resources ?? []).map((resource): [string, string] => ['resource', resource]),
      ['response_type', 'code'],
      ['prompt', 'consent'],
    ]);
    return { raw, verifier, state };
  }

  /** A signed-in person's browser follows the SDK's sign-in URL; the code is exchanged as the SDK does. */
  async function goSignIn(email: string, extra: Parameters<typeof goSignInUri>[0] = {}) {
    const start = goSignInUri(extra);
    const { browser } = await signedInBrowser(sesame, email);
    const callback = await authorizeSignedIn(browser, asBrowserSends(start.raw).href, REDIRECT);
    const params = new URL(callback).searchParams;
    expect(params.get('state')).toBe(start.state);
    const exchanged = await postForm(
      discovery.token_endpoint,
      { client_id: app.id, redirect_uri: REDIRECT, code_verifier: start.verifier, code: params.get('code')!, grant_type: 'authorization_code' },
      goBasicAuth(app.id, app.secret),
    );
    return { browser, exchanged };
  }

  function expectTokenResponseShape(body: Record<string, unknown>) {
    for (const field of ['access_token', 'refresh_token', 'id_token', 'scope']) expect(typeof body[field], field).toBe('string');
    expect(Number.isInteger(body.expires_in)).toBe(true);
  }

  function expectIdToken(idToken: string) {
    const { header, payload } = verifyJwt(idToken, jwks as Parameters<typeof verifyJwt>[1]);
    expect(jwks.keys.some((key) => key.kid === header.kid)).toBe(true);
    expect(payload.iss).toBe(discovery.issuer);
    expect(payload.aud).toBe(app.id);
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(Number.isInteger(payload.exp)).toBe(true);
    // The Go SDK refuses an iat more than 60 s away from its clock.
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThanOrEqual(60);
    if ('email_verified' in payload) expect(typeof payload.email_verified).toBe('boolean');
    return payload;
  }

  it('serves discovery and a JWKS the SDK can parse', async () => {
    const found = await getJson(`${sesame.config.endpoint}/oidc/.well-known/openid-configuration`);
    expect(found.status).toBe(200);
    discovery = found.body as unknown as Discovery;
    expect(discovery.issuer).toBe(`${sesame.config.endpoint}/oidc`);
    for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'end_session_endpoint', 'revocation_endpoint', 'jwks_uri']) {
      expect(typeof (discovery as unknown as Record<string, unknown>)[field], field).toBe('string');
    }
    const keys = await getJson(discovery.jwks_uri);
    expect(keys.status).toBe(200);
    jwks = keys.body as unknown as Jwks;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      for (const [member, value] of Object.entries(key)) expect(typeof value, `JWKS member ${member}`).toBe('string');
      expect(key.kty === 'RSA' || key.kty === 'EC' || (key.kty === 'OKP' && key.crv === 'Ed25519')).toBe(true);
      expect(key).not.toHaveProperty('d');
    }
  });

  it('accepts the unencoded authorization URL as a browser sends it', async () => {
    const { raw } = goSignInUri({ resources: [API], scopes: ['read:books'] });
    expect(raw).toContain('scope=openid offline_access profile read:books');
    expect(raw).toContain(`redirect_uri=${REDIRECT}`);
    const sent = asBrowserSends(raw);
    expect(sent.path).toContain('scope=openid%20offline_access%20profile%20read:books');
    expect(sent.path).toContain(`redirect_uri=${REDIRECT}`);
    const response = await request(`${sesame.config.endpoint}${sent.path}`);
    await response.body.dump();
    expect(response.statusCode).toBe(303);
    expect(String(response.headers.location)).toMatch(/\/interaction\/[\w-]+$/);
  });

  it('refuses an unregistered resource at authorization with invalid_target', async () => {
    const { raw } = goSignInUri({ resources: ['https://unknown.example.com'] });
    const response = await request(`${sesame.config.endpoint}${asBrowserSends(raw).path}`);
    await response.body.dump();
    expect(response.statusCode).toBe(303);
    const location = new URL(String(response.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_target');
  });

  it('signs in, exchanges the code, reads userinfo, refreshes for a resource, revokes and signs out', async () => {
    const email = 'gopher@example.com';
    const { browser, exchanged } = await goSignIn(email, { resources: [API], scopes: ['email', 'custom_data', 'identities', 'read:books'] });
    expect(exchanged.status).toBe(200);
    expect(exchanged.type).toMatch(/^application\/json/);
    const tokens = exchanged.json();
    expectTokenResponseShape(tokens);
    const first = expectIdToken(tokens.id_token as string);
    expect(first.email).toBe(email);
    expect(first.email_verified).toBe(true);
    expect(first.username).toBeNull();

    await replaceUserCustomData(sesame.db, first.sub as string, { plan: 'pro' }, Date.now());
    const info = await getJson(discovery.userinfo_endpoint, { authorization: `Bearer ${String(tokens.access_token)}` });
    expect(info.status).toBe(200);
    expect(info.type).toMatch(/^application\/json/);
    expect(info.body.sub).toBe(first.sub);
    expect(info.body.email).toBe(email);
    expect(info.body.email_verified).toBe(true);
    expect(info.body.custom_data).toEqual({ plan: 'pro' });
    expect(info.body.identities).toEqual({});

    // The ID token of a refresh carries the time of that refresh, not of the sign-in.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    // GetAccessToken(resource): refresh grant with basic auth, client_id in the body, resource.
    const forApi = await postForm(
      discovery.token_endpoint,
      { client_id: app.id, refresh_token: tokens.refresh_token as string, grant_type: 'refresh_token', resource: API },
      goBasicAuth(app.id, app.secret),
    );
    expect(forApi.status).toBe(200);
    const apiTokens = forApi.json();
    expectTokenResponseShape(apiTokens);
    expect(apiTokens.refresh_token).not.toBe(tokens.refresh_token);
    expect(apiTokens.expires_in).toBe(900);
    expect(apiTokens.scope).toBe('read:books');
    const access = verifyJwt(apiTokens.access_token as string, jwks as Parameters<typeof verifyJwt>[1]).payload;
    expect(access.aud).toBe(API);
    expect(access.scope).toBe('read:books');
    expect((access.exp as number) - (access.iat as number)).toBe(900);
    const refreshedId = expectIdToken(apiTokens.id_token as string);
    expect(refreshedId.iat as number).toBeGreaterThan(first.iat as number);

    // An unregistered resource: invalid_target, and the refresh token survives the mistake.
    const unknown = await postForm(
      discovery.token_endpoint,
      { client_id: app.id, refresh_token: apiTokens.refresh_token as string, grant_type: 'refresh_token', resource: 'https://unknown.example.com' },
      goBasicAuth(app.id, app.secret),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.json().error).toBe('invalid_target');

    // A plain refresh (no resource): a userinfo token, and again a new refresh token.
    const plain = await postForm(
      discovery.token_endpoint,
      { client_id: app.id, refresh_token: apiTokens.refresh_token as string, grant_type: 'refresh_token' },
      goBasicAuth(app.id, app.secret),
    );
    expect(plain.status).toBe(200);
    const plainTokens = plain.json();
    expectTokenResponseShape(plainTokens);
    expect(() => decodeJwt(plainTokens.access_token as string)).toThrow();
    const again = await getJson(discovery.userinfo_endpoint, { authorization: `Bearer ${String(plainTokens.access_token)}` });
    expect(again.status).toBe(200);

    // SignOut: revocation with client_id and no secret. A 401 is what the SDK ignores; never a 500.
    const revoked = await postForm(discovery.revocation_endpoint, { client_id: app.id, token: plainTokens.refresh_token as string });
    expect(revoked.status).toBe(401);
    expect(revoked.json().error).toBe('invalid_client');

    // Then the browser goes to end_session with client_id and post_logout_redirect_uri only, unencoded.
    const endSession = asBrowserSends(goUnescapedUrl(discovery.end_session_endpoint, [
      ['client_id', app.id],
      ['post_logout_redirect_uri', POST_LOGOUT],
    ]));
    const logoutPage = await browser.follow(endSession.href);
    expect(logoutPage.status).toBe(200);
    expect(logoutPage.body).toContain('data-autosubmit');
    const back = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' }, POST_LOGOUT);
    // oidc-provider serialises the URI, so the sample's "http://localhost:8080" comes back with its "/".
    expect(back.headers.get('location')).toBe(new URL(POST_LOGOUT).href);
  });

  it('exchanges a code for the bare sample config (no resources, no extra scopes)', async () => {
    const { exchanged } = await goSignIn('plain.gopher@example.com');
    expect(exchanged.status).toBe(200);
    const tokens = exchanged.json();
    expectTokenResponseShape(tokens);
    expect((tokens.scope as string).split(' ').sort()).toEqual(['offline_access', 'openid', 'profile']);
    const claims = expectIdToken(tokens.id_token as string);
    expect(claims).not.toHaveProperty('email');
    expect(claims.username).toBeNull();
  });
});
