import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import LogtoClient from '@logto/node';
import { HttpBrowser } from '../helpers/browser.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { signInWithEmail } from '../helpers/oidc.ts';
import { MemoryStorage, verifyJwt } from '../helpers/logto.ts';
import { createResource } from '../../src/management/resources.ts';
import { replaceUserCustomData } from '../../src/db/user-custom-data.ts';
import type { Application } from '../../src/db/applications.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const POST_LOGOUT = 'http://127.0.0.1:9/';
const API = 'https://api.example.com';
const EMAIL = 'reader@example.com';

/** The official @logto/node client, unmodified, as an app would configure it against Sesame. */
describe('@logto/node against Sesame', () => {
  let sesame: TestSesameWithMail;
  let app: Application;

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    app = await sesame.registerApp({ redirectUris: [REDIRECT], postLogoutRedirectUris: [POST_LOGOUT] });
    await createResource(sesame.db, { indicator: API, name: 'Example API', scopes: ['read:books', 'write:books'], accessTokenTtl: 600 });
    // The SDK logs every non-2xx answer it gets; the refused resource below is one on purpose.
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await sesame?.stop();
  });

  it('signs in with an emailed code, reads claims and userinfo, gets an API token and signs out', async () => {
    const storage = new MemoryStorage();
    const navigations: { url: string; for: string }[] = [];
    const logto = new LogtoClient(
      {
        endpoint: sesame.config.endpoint,
        appId: app.id,
        appSecret: app.secret,
        resources: [API],
        scopes: ['email', 'custom_data', 'identities', 'read:books'],
      },
      { storage, navigate: (url, { for: purpose }) => void navigations.push({ url, for: purpose }) },
    );

    await logto.signIn(REDIRECT);
    const signIn = navigations.pop()!;
    expect(signIn.for).toBe('sign-in');
    const signInUrl = new URL(signIn.url);
    expect(signInUrl.origin + signInUrl.pathname).toBe(`${sesame.issuer}/auth`);
    expect(signInUrl.searchParams.get('prompt')).toBe('consent');
    expect(signInUrl.searchParams.getAll('resource')).toEqual([API]);

    const browser = new HttpBrowser();
    const { callback } = await signInWithEmail(browser, sesame.smtp, { url: signIn.url, verifier: '', state: '' }, EMAIL, REDIRECT);
    await logto.handleSignInCallback(callback);
    expect(await logto.isAuthenticated()).toBe(true);

    const claims = await logto.getIdTokenClaims();
    expect(claims.iss).toBe(sesame.issuer);
    expect(claims.aud).toBe(app.id);
    expect(claims.email).toBe(EMAIL);
    expect(claims.email_verified).toBe(true);
    expect(claims.username).toBeNull();
    expect(Number.isInteger(claims.iat)).toBe(true);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(60);
    // Objects that can grow are served by userinfo only, as Logto does.
    expect(claims).not.toHaveProperty('custom_data');

    await replaceUserCustomData(sesame.db, claims.sub, { plan: 'pro', shelves: ['sci-fi'] }, Date.now());
    const info = await logto.fetchUserInfo();
    expect(info.sub).toBe(claims.sub);
    expect(info.email).toBe(EMAIL);
    expect(info.username).toBeNull();
    expect(info.custom_data).toEqual({ plan: 'pro', shelves: ['sci-fi'] });
    expect(info.identities).toEqual({});

    // A resource the app did not sign in with is refused, and does not burn the refresh token.
    const refreshBefore = await logto.getRefreshToken();
    await expect(logto.getAccessToken('https://unknown.example.com')).rejects.toThrow();
    expect(await logto.getRefreshToken()).toBe(refreshBefore);

    // getAccessToken(resource) goes through the refresh grant with `resource`.
    const apiToken = await logto.getAccessToken(API);
    const refreshAfter = await logto.getRefreshToken();
    expect(refreshAfter).toBeTruthy();
    expect(refreshAfter).not.toBe(refreshBefore);
    const jwks = (await (await fetch(`${sesame.issuer}/jwks`)).json()) as Parameters<typeof verifyJwt>[1];
    const { header, payload } = verifyJwt(apiToken, jwks);
    expect(header.typ).toBe('at+jwt');
    expect(payload.aud).toBe(API);
    expect(payload.iss).toBe(sesame.issuer);
    expect(payload.sub).toBe(claims.sub);
    expect(payload.client_id).toBe(app.id);
    expect(payload.scope).toBe('read:books');
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    const accessClaims = await logto.getAccessTokenClaims(API);
    expect(accessClaims.aud).toBe(API);

    await logto.signOut(POST_LOGOUT);
    const signOut = navigations.pop()!;
    expect(signOut.for).toBe('sign-out');
    expect(await logto.isAuthenticated()).toBe(false);
    // The SDK revoked the refresh token (it authenticates with the App Secret).
    const reuse = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshAfter! }),
    });
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');

    const logoutPage = await browser.follow(signOut.url);
    expect(logoutPage.status).toBe(200);
    // logout=yes sits outside the form (form= attribute), so the form walker adds it as a browser would.
    const back = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' }, POST_LOGOUT);
    expect(back.location).toBe(POST_LOGOUT);

    // The Sesame session is gone: signing in again asks for the email once more.
    await logto.signIn(REDIRECT);
    const again = await browser.follow(navigations.pop()!.url, {}, REDIRECT);
    expect(again.status).toBe(200);
    expect(again.body).toContain('/email');
  });
});
