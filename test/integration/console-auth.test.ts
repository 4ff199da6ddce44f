import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { freePort, startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { signedInBrowser, authorizeSignedIn } from '../helpers/session.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { CONSOLE_CLIENT_ID, setAdministrator } from '../../src/management/admins.ts';
import { CLI } from '../../src/management/audit.ts';
import { revokeUserSessions, setSuspended } from '../../src/management/users.ts';
import { findApplication } from '../../src/db/applications.ts';

/** Who gets into the admin console at /console, and what their console token may do. */
describe('admin console: who gets in', () => {
  let sesame: TestSesame;
  let endpoint: string;

  beforeAll(async () => {
    sesame = await startTestSesame();
    endpoint = sesame.config.endpoint;
  });
  afterAll(() => sesame?.stop());

  /** A browser signed in to Sesame as `email` (an admin when `admin`), then to the console. */
  async function consoleBrowser(email: string, admin = true) {
    const { browser, accountId } = await signedInBrowser(sesame, email);
    if (admin) await setAdministrator(sesame.db, accountId, true, CLI);
    const page = await browser.follow(`${endpoint}/console`);
    return { browser, accountId, page };
  }

  const sessionRows = (userId: string) => sesame.db.selectFrom('console_sessions').selectAll().where('user_id', '=', userId).execute();

  it('sends an anonymous visitor to Sesame\'s sign-in, with PKCE, and back to the page asked for', async () => {
    const browser = new HttpBrowser();
    const first = await browser.request(`${endpoint}/console/users?search=x`);
    expect(first.status).toBe(303);
    expect(first.location).toBe(`${endpoint}/console/sign-in?return_to=%2Fconsole%2Fusers%3Fsearch%3Dx`);
    const start = await browser.request(new URL(first.location!, endpoint).href);
    expect(start.status).toBe(303);
    const auth = new URL(start.location!);
    expect(auth.origin + auth.pathname).toBe(`${sesame.issuer}/auth`);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({
      client_id: CONSOLE_CLIENT_ID,
      redirect_uri: `${endpoint}/console/callback`,
      code_challenge_method: 'S256',
      resource: `${endpoint}/api`,
    });
    // Sesame's own sign-in page (email code), not a page of the console's.
    const signIn = await browser.follow(start.location!);
    expect(signIn.status).toBe(200);
    expect(signIn.url).toMatch(/\/interaction\//);
    expect(signIn.body).toContain('name="email"');
  });

  it('goes back only to a console page after sign-in, and refuses a callback it did not start', async () => {
    const browser = new HttpBrowser();
    for (const evil of ['//evil.example/console', 'https://evil.example/', '/\\evil.example', '/consolex']) {
      const start = await browser.request(`${endpoint}/console/sign-in?return_to=${encodeURIComponent(evil)}`);
      // The pending sign-in (a signed cookie: "<value>.<signature>") records where to go back: always a console page.
      const cookie = /sesame_console_signin=([^;]+)/.exec(start.headers.get('set-cookie') ?? '')![1]!;
      const pending = JSON.parse(decodeURIComponent(cookie).replace(/\.[^.]+$/, '')) as { returnTo: string };
      expect(pending.returnTo, evil).toBe('/console');
    }
    const forged = await browser.request(`${endpoint}/console/callback?code=abc&state=not-mine`);
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('Sign-in did not complete');
    expect(forged.body).not.toMatch(/\bat \w+ \(|\.ts:\d/);
    const none = await new HttpBrowser().request(`${endpoint}/console/callback?code=abc&state=x`);
    expect(none.status).toBe(400);
  });

  it('lets an administrator in: each page answers 200 with the console layout', async () => {
    const { browser, accountId, page } = await consoleBrowser('ada@example.com');
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${endpoint}/console`);
    expect(page.body).toContain('<h1>Overview</h1>');
    expect(page.body).toContain('ada@example.com');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script>(?!<\/script>)/); // no inline script
    for (const path of ['/console/applications', '/console/applications/new', '/console/users', `/console/users/${accountId}`]) {
      const response = await browser.request(`${endpoint}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.body, path).toContain('aria-current="page"');
    }
    // The console's own app is Sesame's: not listed, not editable, as if absent (404), through the console as through the API.
    expect((await browser.request(`${endpoint}/console/applications`)).body).not.toContain(CONSOLE_CLIENT_ID);
    expect((await browser.request(`${endpoint}/console/applications/${CONSOLE_CLIENT_ID}`)).status).toBe(404);
    expect((await browser.request(`${endpoint}/assets/console.css`)).status).toBe(200);
    expect((await browser.request(`${endpoint}/assets/console.js`)).status).toBe(200);
  });

  it('shows everyone else "you are not an administrator", keeps no console session and revokes the token it got', async () => {
    const { accountId, page } = await consoleBrowser('bob@example.com', false);
    expect(page.status).toBe(403);
    expect(page.body).toContain('You are not an administrator');
    expect(page.body).toContain('bob@example.com');
    expect(page.body).toContain(`/oidc/session/end?client_id=${CONSOLE_CLIENT_ID}`);
    expect(await sessionRows(accountId)).toHaveLength(0);
    // The refresh token from the code exchange was revoked: no grant of the console's is left usable.
    const live = await sesame.db
      .selectFrom('oidc_model_instances')
      .select('id')
      .where('model', '=', 'RefreshToken')
      .where('account_id', '=', accountId)
      .where('consumed_at', 'is', null)
      .execute();
    expect(live).toHaveLength(0);
  });

  it('gives a non-administrator no management API token for the console app, by code or by refresh', async () => {
    const { browser, accountId } = await signedInBrowser(sesame, 'carol@example.com');
    const consoleApp = (await findApplication(sesame.db, CONSOLE_CLIENT_ID))!;
    const config = await discover(sesame.issuer, consoleApp);
    const redirectUri = `${endpoint}/console/callback`;
    const start = await startAuthorization(config, redirectUri, { scope: 'openid email offline_access all', resource: `${endpoint}/api` });
    const callback = await authorizeSignedIn(browser, start.url, redirectUri);
    const code = new URL(callback).searchParams.get('code')!;
    const byCode = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${consoleApp.id}:${consoleApp.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: start.verifier, resource: `${endpoint}/api` }),
    });
    expect(byCode.status).toBe(400);
    expect(await byCode.json()).toMatchObject({ error: 'invalid_target', error_description: 'this account is not an administrator of this Sesame' });

    // Signed in again, code exchanged without the resource (as the console does), then refreshed for it.
    const again = await startAuthorization(config, redirectUri, { scope: 'openid email offline_access all', resource: `${endpoint}/api` });
    const tokens = await client.authorizationCodeGrant(config, new URL(await authorizeSignedIn(browser, again.url, redirectUri)), { pkceCodeVerifier: again.verifier, expectedState: again.state });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!, { resource: `${endpoint}/api` })).rejects.toMatchObject({ error: 'invalid_target' });
    // Made an administrator, the same refresh token now gets a token the API takes.
    await setAdministrator(sesame.db, accountId, true, CLI);
    const granted = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: `${endpoint}/api` });
    expect(granted.scope).toBe('all');
    expect((await fetch(`${endpoint}/api/users`, { headers: { authorization: `Bearer ${granted.access_token}` } })).status).toBe(200);
  });

  it('gives no other app a management API token for a person, even for an administrator', async () => {
    const app = await sesame.registerApp({ redirectUris: ['http://127.0.0.1:9/cb'] });
    const { browser, accountId } = await signedInBrowser(sesame, 'dora@example.com');
    await setAdministrator(sesame.db, accountId, true, CLI);
    const config = await discover(sesame.issuer, app);
    const start = await startAuthorization(config, 'http://127.0.0.1:9/cb', { resource: `${endpoint}/api`, scope: 'openid offline_access all' });
    const done = await browser.follow(start.url, {}, 'http://127.0.0.1:9/cb');
    const back = new URL(done.location!);
    expect(back.searchParams.get('error')).toBe('invalid_target');
  });

  it('stops a removed administrator\'s token at their next request, and ends their console session', async () => {
    const { browser, accountId, page } = await consoleBrowser('eve@example.com');
    expect(page.status).toBe(200);
    const [row] = await sessionRows(accountId);
    const token = (JSON.parse(row!.data) as { accessToken: string }).accessToken;
    const api = () => fetch(`${endpoint}/api/users`, { headers: { authorization: `Bearer ${token}` } });
    expect((await api()).status).toBe(200);

    await setAdministrator(sesame.db, accountId, false, CLI);
    const refused = await api();
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toContain('not an administrator');
    expect(await sessionRows(accountId)).toHaveLength(0);
    const after = await browser.request(`${endpoint}/console/users`);
    expect(after.status).toBe(303); // no session any more: sign in again (and then be refused)
    const refusedPage = await browser.follow(`${endpoint}/console`);
    expect(refusedPage.status).toBe(403);
    expect(refusedPage.body).toContain('You are not an administrator');
  });

  it('refuses a suspended administrator\'s console token and pages', async () => {
    const { browser, accountId, page } = await consoleBrowser('fay@example.com');
    expect(page.status).toBe(200);
    const [row] = await sessionRows(accountId);
    const token = (JSON.parse(row!.data) as { accessToken: string }).accessToken;
    await setSuspended(sesame.db, accountId, true, CLI);
    expect((await fetch(`${endpoint}/api/users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    // Suspending ends every session the account has, its console sessions included.
    expect(await sessionRows(accountId)).toHaveLength(0);
    expect((await browser.request(`${endpoint}/console/users`)).status).toBe(303);
  });

  it("ends an administrator's console session when their sessions are revoked", async () => {
    const { browser, accountId, page } = await consoleBrowser('gus@example.com');
    expect(page.status).toBe(200);
    expect(await sessionRows(accountId)).toHaveLength(1);
    await revokeUserSessions(sesame.db, accountId, CLI);
    expect(await sessionRows(accountId)).toHaveLength(0);
    expect((await browser.request(`${endpoint}/console/users`)).status).toBe(303);
  });

  it('refuses a form without its CSRF token and changes nothing', async () => {
    const { browser } = await consoleBrowser('gus@example.com');
    const before = (await sesame.db.selectFrom('applications').select('id').execute()).length;
    const forged = await browser.request(`${endpoint}/console/applications`, { method: 'POST', form: { name: 'Forged', type: 'm2m' } });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('This form has expired');
    expect(forged.body).not.toMatch(/\bat \w+ \(|\.ts:\d/);
    expect((await sesame.db.selectFrom('applications').select('id').execute()).length).toBe(before);
    // The same form with its token goes through.
    const form = await browser.request(`${endpoint}/console/applications/new`);
    const created = await browser.submit(form, '/console/applications', { name: 'Real', type: 'm2m' });
    expect(created.status).toBe(200);
    expect((await sesame.db.selectFrom('applications').select('id').execute()).length).toBe(before + 1);
  });

  it('ends a session idle for 30 minutes, and one 12 hours old, whatever the cookie says', async () => {
    const { browser, accountId } = await consoleBrowser('hal@example.com');
    await sesame.db.updateTable('console_sessions').set({ last_seen_at: Date.now() - 31 * 60 * 1000 }).where('user_id', '=', accountId).execute();
    expect((await browser.request(`${endpoint}/console`)).status).toBe(303);
    expect(await sessionRows(accountId)).toHaveLength(0);

    expect((await browser.follow(`${endpoint}/console`)).status).toBe(200); // signs in again (the Sesame session is still there)
    await sesame.db.updateTable('console_sessions').set({ expires_at: Date.now() - 1 }).where('user_id', '=', accountId).execute();
    expect((await browser.request(`${endpoint}/console`)).status).toBe(303);
  });

  it('signs out of the console and of Sesame, back at the registered post-logout page', async () => {
    const { browser, accountId, page } = await consoleBrowser('ida@example.com');
    const logoutPage = await browser.submit(page, '/console/sign-out');
    // Sesame's sign-out page posts itself (a script from /assets); this browser runs none, so it submits.
    expect(logoutPage.url).toContain(`/oidc/session/end?client_id=${CONSOLE_CLIENT_ID}`);
    const done = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' });
    expect(done.status).toBe(200);
    expect(done.url).toBe(`${endpoint}/console/signed-out`);
    expect(done.body).toContain('You have signed out');
    expect(await sessionRows(accountId)).toHaveLength(0);
    // The Sesame session ended too: the console now goes to the sign-in page instead of straight in.
    const again = await browser.follow(`${endpoint}/console`);
    expect(again.url).toMatch(/\/interaction\//);
  });
});

describe('admin console: a session survives a restart', () => {
  it('keeps the administrator signed in across a restart on the same database', async () => {
    const dir = tempDir();
    const port = await freePort();
    const env = { PORT: String(port), ENDPOINT: `http://127.0.0.1:${port}` };
    let sesame = await startTestSesame({ dir: dir.path, env });
    try {
      const { browser, accountId } = await signedInBrowser(sesame, 'jo@example.com');
      await setAdministrator(sesame.db, accountId, true, CLI);
      expect((await browser.follow(`${env.ENDPOINT}/console`)).status).toBe(200);
      await sesame.stop();
      sesame = await startTestSesame({ dir: dir.path, env });
      const after = await browser.request(`${env.ENDPOINT}/console/users`);
      expect(after.status).toBe(200);
      expect(after.body).toContain('jo@example.com');
    } finally {
      await sesame.stop();
      dir.remove();
    }
  });
});
