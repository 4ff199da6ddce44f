import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { signedInBrowser } from '../helpers/session.ts';
import { HttpBrowser, findForm, type PageResponse } from '../helpers/browser.ts';
import { discover, exchange, startAuthorization } from '../helpers/oidc.ts';
import { SoftAuthenticator } from '../helpers/passkey-authenticator.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { listApplications } from '../../src/db/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { deleteUser, getUser, revokeUserSessions, setSuspended } from '../../src/management/users.ts';
import { ACCOUNT_CLIENT_ID } from '../../src/account/oidc.ts';
import { listPasskeys } from '../../src/db/passkeys.ts';
import type { Application } from '../../src/db/applications.ts';

/**
 * The account page (/account) and passkeys without a browser: who gets in, adding passkeys with a
 * software authenticator, signing in with one (no mail), and every refusal: a challenge used twice,
 * another origin, a counter going backwards, a changed backup-eligible flag, the lockout, and the
 * management API's list and delete.
 */
describe('account page and passkeys', () => {
  let sesame: TestSesameWithMail;
  let endpoint: string;
  let app: Application;
  let oidc: client.Configuration;
  const redirectUri = 'http://127.0.0.1:9/callback';

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    endpoint = sesame.config.endpoint;
    app = await sesame.registerApp({ redirectUris: [redirectUri] });
    oidc = await discover(sesame.issuer, app);
  });
  afterAll(() => sesame?.stop());

  /** A browser signed in to Sesame as `email`, then on /account (through the account page's own OIDC sign-in). */
  async function accountBrowser(email: string) {
    const { browser, accountId } = await signedInBrowser(sesame, email);
    const page = await browser.follow(`${endpoint}/account`);
    return { browser, accountId, page };
  }

  const csrfOf = (page: PageResponse, action: string) => findForm(page.body, action).fields._csrf!;

  async function postJson(browser: HttpBrowser, url: string, csrf: string) {
    const response = await browser.request(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'csrf-token': csrf } });
    return { status: response.status, json: JSON.parse(response.body) as any, headers: response.headers };
  }

  /** Adds a passkey on the account page; returns the answer to the registration request. */
  async function addPasskey(browser: HttpBrowser, authenticator: SoftAuthenticator, name: string, how: Parameters<SoftAuthenticator['create']>[1] = {}) {
    const page = await browser.follow(`${endpoint}/account`);
    const csrf = csrfOf(page, '/account/passkeys');
    const options = await postJson(browser, `${endpoint}/account/passkeys/options`, csrf);
    expect(options.status).toBe(200);
    const answer = authenticator.create(options.json, how);
    return browser.request(`${endpoint}/account/passkeys`, { form: { _csrf: csrf, name, response: JSON.stringify(answer) } });
  }

  /** Starts an app's sign-in in a fresh browser and asks for a passkey challenge on the email page. */
  async function passkeyChallenge(browser = new HttpBrowser()) {
    const start = await startAuthorization(oidc, redirectUri);
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    const form = findForm(emailPage.body, '/passkey');
    const options = await postJson(browser, new URL(`${form.action}/options`, emailPage.url).href, form.fields._csrf!);
    expect(options.status).toBe(200);
    return { browser, start, emailPage, form, options: options.json };
  }

  /** The amr of each Sesame session of the account (how each sign-in proved who it was). */
  async function sessionAmrs(accountId: string): Promise<string[][]> {
    const rows = await sesame.db.selectFrom('oidc_model_instances').select('payload').where('model', '=', 'Session').execute();
    return rows.map((row) => JSON.parse(row.payload) as { accountId?: string; amr?: string[] }).filter((session) => session.accountId === accountId).map((session) => session.amr ?? []);
  }

  const postAnswer = (challenge: Awaited<ReturnType<typeof passkeyChallenge>>, answer: unknown) =>
    challenge.browser.request(new URL(challenge.form.action, challenge.emailPage.url).href, { form: { ...challenge.form.fields, response: JSON.stringify(answer) } });

  it('sends a visitor without a session to Sesame\'s sign-in as the sesame-account app, with PKCE, and back', async () => {
    const browser = new HttpBrowser();
    const first = await browser.request(`${endpoint}/account?x=1`);
    expect(first.status).toBe(303);
    expect(first.location).toBe(`${endpoint}/account/sign-in?return_to=%2Faccount%3Fx%3D1`);
    const start = await browser.request(first.location!);
    const auth = new URL(start.location!);
    expect(auth.origin + auth.pathname).toBe(`${sesame.issuer}/auth`);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({ client_id: ACCOUNT_CLIENT_ID, redirect_uri: `${endpoint}/account/callback`, code_challenge_method: 'S256', scope: 'openid email' });
    const signIn = await browser.follow(start.location!);
    expect(signIn.url).toMatch(/\/interaction\//);
    // A forged or stale callback is refused with a page, not an error.
    const forged = await new HttpBrowser().request(`${endpoint}/account/callback?code=abc&state=x`);
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('Sign-in did not complete');
    // A form POST whose session ended is sent to sign in again; the page script's JSON request gets a 401 it can show.
    const { browser: ended, page, accountId } = await accountBrowser('ended@example.com');
    const csrf = csrfOf(page, '/account/passkeys');
    await sesame.db.deleteFrom('account_sessions').where('user_id', '=', accountId).execute();
    const form = await ended.request(`${endpoint}/account/passkeys`, { form: { _csrf: csrf, name: 'x', response: '{}' } });
    expect(form.status).toBe(303);
    expect(form.location).toBe(`${endpoint}/account/sign-in`);
    const script = await ended.request(`${endpoint}/account/passkeys/options`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'csrf-token': csrf, accept: 'application/json' } });
    expect(script.status).toBe(401);
    expect(script.body).toContain('Reload the page');
    // The account page's app is Sesame's own: not among the operator's apps.
    expect((await listApplications(sesame.db)).map((row) => row.id)).not.toContain(ACCOUNT_CLIENT_ID);
  });

  it('shows a signed-in person their account, with the strict CSP and no inline script', async () => {
    const { page, browser } = await accountBrowser('ada@example.com');
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${endpoint}/account`);
    expect(page.body).toContain('ada@example.com');
    expect(page.body).toContain('You have no passkeys yet.');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body).not.toMatch(/\sstyle="/);
    for (const asset of ['/assets/simplewebauthn-browser.js', '/assets/passkeys.js', '/assets/account.css']) {
      const response = await browser.request(`${endpoint}${asset}`);
      expect(response.status, asset).toBe(200);
    }
    expect((await browser.request(`${endpoint}/assets/simplewebauthn-browser.js`)).body).toContain('SimpleWebAuthnBrowser');
  });

  it('refuses a suspended account and ends its session; a deleted account takes its passkeys and sessions with it', async () => {
    const { browser, accountId } = await accountBrowser('suspended@example.com');
    expect((await browser.request(`${endpoint}/account`)).status).toBe(200);
    await addPasskey(browser, new SoftAuthenticator(endpoint), 'Laptop');
    expect(await listPasskeys(sesame.db, accountId)).toHaveLength(1);
    // Suspension ends the account sessions at once (and the request after finds none).
    await setSuspended(sesame.db, accountId, true, CLI);
    const after = await browser.request(`${endpoint}/account`);
    expect(after.status).toBe(303);
    await setSuspended(sesame.db, accountId, false, CLI);
    // A session that outlives a suspension some other way (a row kept) still meets the check.
    const second = await accountBrowser('suspended@example.com');
    await sesame.db.updateTable('users').set({ is_suspended: 1 }).where('id', '=', accountId).execute();
    const refused = await second.browser.request(`${endpoint}/account`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('This account is suspended');
    expect(await sesame.db.selectFrom('account_sessions').selectAll().where('user_id', '=', accountId).execute()).toHaveLength(0);
    await sesame.db.updateTable('users').set({ is_suspended: 0 }).where('id', '=', accountId).execute();
    // Revoking sessions ends the account page's too.
    const third = await accountBrowser('suspended@example.com');
    await revokeUserSessions(sesame.db, accountId, CLI);
    expect((await third.browser.request(`${endpoint}/account`)).status).toBe(303);
    await accountBrowser('suspended@example.com');
    await deleteUser(sesame.db, await getUser(sesame.db, accountId), CLI);
    expect(await sesame.db.selectFrom('passkeys').selectAll().where('user_id', '=', accountId).execute()).toHaveLength(0);
    expect(await sesame.db.selectFrom('account_sessions').selectAll().where('user_id', '=', accountId).execute()).toHaveLength(0);
  });

  it('adds passkeys (named), signs in with one without any mail, with amr hwk+user+mfa', async () => {
    const { browser, accountId } = await accountBrowser('grace@example.com');
    const authenticator = new SoftAuthenticator(endpoint);
    const added = await addPasskey(browser, authenticator, '  Work   laptop ', { backupEligible: true, backedUp: true });
    expect(added.status).toBe(303);
    expect(added.location).toBe(`${endpoint}/account#passkeys`);
    const page = await browser.follow(added.location!);
    expect(page.body).toContain('Passkey “Work laptop” added.');
    expect(page.body).toContain('Synced');
    const [stored] = await listPasskeys(sesame.db, accountId);
    expect(stored).toMatchObject({ name: 'Work laptop', deviceType: 'multiDevice', backedUp: true, counter: 0, transports: ['internal'], lastUsedAt: null });

    const mailsBefore = sesame.smtp.messages().length;
    const challenge = await passkeyChallenge();
    expect(challenge.emailPage.body).toContain('autocomplete="username webauthn"');
    expect(challenge.options).toMatchObject({ rpId: '127.0.0.1', userVerification: 'preferred' });
    expect(challenge.options.allowCredentials ?? []).toEqual([]);
    const done = await challenge.browser.follow(new URL(challenge.form.action, challenge.emailPage.url).href, { form: { ...challenge.form.fields, response: JSON.stringify(authenticator.get(challenge.options)) } }, redirectUri);
    expect(done.location?.startsWith(redirectUri), done.body.slice(0, 400)).toBe(true);
    const tokens = await exchange(oidc, done.location!, challenge.start);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(accountId);
    expect(await sessionAmrs(accountId)).toContainEqual(['hwk', 'user', 'mfa']);
    expect(sesame.smtp.messages().length).toBe(mailsBefore);
    const [used] = await listPasskeys(sesame.db, accountId);
    expect(used!.counter).toBe(1);
    expect(used!.lastUsedAt).toBeGreaterThan(0);
    const log = await sesame.db.selectFrom('audit_logs').selectAll().where('user_id', '=', accountId).where('type', '=', 'Interaction.SignIn.Submit').execute();
    expect(JSON.parse(log.at(-1)!.data)).toMatchObject({ method: 'Passkey', userVerified: true, passkeyName: 'Work laptop' });
    expect(log.at(-1)!.data).not.toContain(stored!.credentialId);
    expect(log.at(-1)!.data).not.toContain(stored!.publicKey);

    // Without user verification: one factor only.
    const second = await passkeyChallenge();
    const oneFactor = await second.browser.follow(new URL(second.form.action, second.emailPage.url).href, { form: { ...second.form.fields, response: JSON.stringify(authenticator.get(second.options, { userVerified: false })) } }, redirectUri);
    expect(oneFactor.location?.startsWith(redirectUri), oneFactor.body.slice(0, 400)).toBe(true);
    expect((await exchange(oidc, oneFactor.location!, second.start)).claims()!.sub).toBe(accountId);
    expect(await sessionAmrs(accountId)).toContainEqual(['hwk']);

    // The same authenticator cannot register twice (excludeCredentials lists it); a second one can.
    const page2 = await browser.follow(`${endpoint}/account`);
    const options = await postJson(browser, `${endpoint}/account/passkeys/options`, csrfOf(page2, '/account/passkeys'));
    expect(options.json.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([stored!.credentialId]);
    expect(options.json.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'preferred' });
    expect((await addPasskey(browser, new SoftAuthenticator(endpoint), 'Phone')).status).toBe(303);
    expect((await listPasskeys(sesame.db, accountId)).map((p) => p.name)).toEqual(['Work laptop', 'Phone']);
  });

  it('renames and removes a passkey (with a confirmation page), only one of the person\'s own', async () => {
    const { browser, accountId } = await accountBrowser('rename@example.com');
    await addPasskey(browser, new SoftAuthenticator(endpoint), 'Old name');
    const [passkey] = await listPasskeys(sesame.db, accountId);
    const renamePage = await browser.follow(`${endpoint}/account/passkeys/${passkey!.id}/rename`);
    expect(renamePage.status).toBe(200);
    const blank = await browser.submit(renamePage, `/rename`, { name: '   ' });
    expect(blank.status).toBe(400);
    expect(blank.body).toContain('Give the passkey a name');
    const tooLong = await browser.submit(renamePage, `/rename`, { name: 'x'.repeat(61) });
    expect(tooLong.status).toBe(400);
    const renamed = await browser.submit(renamePage, `/rename`, { name: 'Desk <key>' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toContain('Desk &lt;key&gt;');
    expect((await listPasskeys(sesame.db, accountId))[0]!.name).toBe('Desk <key>');

    // Someone else's passkey ID is "not found" to this account.
    const other = await accountBrowser('other@example.com');
    expect((await other.browser.request(`${endpoint}/account/passkeys/${passkey!.id}/remove`)).status).toBe(404);
    expect((await other.browser.request(`${endpoint}/account/passkeys/nope!/rename`)).status).toBe(404);

    const confirm = await browser.follow(`${endpoint}/account/passkeys/${passkey!.id}/remove`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Remove “Desk &lt;key&gt;”?');
    // Without the CSRF token: refused with a page.
    const forged = await browser.request(`${endpoint}/account/passkeys/${passkey!.id}/remove`, { form: {} });
    expect(forged.status).toBe(403);
    const removed = await browser.submit(confirm, '/remove');
    expect(removed.status).toBe(200);
    expect(removed.body).toContain('removed');
    expect(await listPasskeys(sesame.db, accountId)).toHaveLength(0);
    const types = (await sesame.db.selectFrom('audit_logs').select('type').where('user_id', '=', accountId).execute()).map((row) => row.type);
    expect(types).toEqual(expect.arrayContaining(['Account.Passkey.Create', 'Account.Passkey.Update', 'Account.Passkey.Delete']));
  });

  it('uses each challenge once, only from ENDPOINT\'s origin, and refuses a counter that goes backwards or a changed backup flag', async () => {
    const { browser, accountId } = await accountBrowser('strict@example.com');
    const authenticator = new SoftAuthenticator(endpoint);

    // Registration: an answer for another origin is refused, and its challenge is spent.
    const page = await browser.follow(`${endpoint}/account`);
    const csrf = csrfOf(page, '/account/passkeys');
    const options = await postJson(browser, `${endpoint}/account/passkeys/options`, csrf);
    const phished = await browser.request(`${endpoint}/account/passkeys`, { form: { _csrf: csrf, name: 'x', response: JSON.stringify(authenticator.create(options.json, { origin: 'https://evil.example' })) } });
    expect(phished.status).toBe(400);
    const replay = await browser.request(`${endpoint}/account/passkeys`, { form: { _csrf: csrf, name: 'x', response: JSON.stringify(authenticator.create(options.json)) } });
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('expired or was already used');
    expect(await listPasskeys(sesame.db, accountId)).toHaveLength(0);
    // Garbage in the response field: a clear 400, not a 500.
    const options2 = await postJson(browser, `${endpoint}/account/passkeys/options`, csrf);
    expect(options2.status).toBe(200);
    const garbage = await browser.request(`${endpoint}/account/passkeys`, { form: { _csrf: csrf, name: 'x', response: '{"id":1' } });
    expect(garbage.status).toBe(400);

    const fresh = new SoftAuthenticator(endpoint);
    expect((await addPasskey(browser, fresh, 'Key', { counter: 5 })).status).toBe(303);

    // Sign-in: the same challenge answered twice is refused the second time.
    const challenge = await passkeyChallenge();
    const answer = fresh.get(challenge.options);
    const first = await postAnswer(challenge, answer);
    expect(first.status).toBe(303);
    // The same answer again: its challenge is spent.
    const again = await postAnswer(challenge, answer);
    expect(again.status).toBe(400);
    expect(again.body).toContain('expired');
    const retry = await passkeyChallenge();
    const twice = await postAnswer(retry, answer);
    expect(twice.status).toBe(400);

    // Another origin's answer (a phishing page relaying the challenge).
    const phish = await passkeyChallenge();
    const phishAnswer = await postAnswer(phish, fresh.get(phish.options, { origin: 'https://evil.example' }));
    expect(phishAnswer.status).toBe(400);
    expect(phishAnswer.body).toContain('could not be verified');

    // A counter that goes backwards (a cloned authenticator) is refused and logged.
    const clone = await passkeyChallenge();
    const cloned = await postAnswer(clone, fresh.get(clone.options, { counter: 3 }));
    expect(cloned.status).toBe(400);
    expect(cloned.body).toContain('looks like a copy');
    const [key] = await listPasskeys(sesame.db, accountId);
    expect(key!.counter).toBe(6);
    const refusals = await sesame.db.selectFrom('audit_logs').select('data').where('user_id', '=', accountId).where('type', '=', 'Interaction.SignIn.Verification.WebAuthn.Submit').execute();
    expect(refusals.map((row) => JSON.parse(row.data).reason)).toEqual(expect.arrayContaining(['invalid', 'counter']));

    // The backup-eligible flag never changes for a genuine credential.
    const flag = await passkeyChallenge();
    expect((await postAnswer(flag, fresh.get(flag.options, { backupEligible: true }))).status).toBe(400);

    // Another account's user handle with this credential.
    const handle = await passkeyChallenge();
    expect((await postAnswer(handle, fresh.get(handle.options, { userHandle: Buffer.from('someone-else').toString('base64url') }))).status).toBe(400);

    // An answer without a challenge asked for, and a malformed one.
    const noChallenge = await passkeyChallenge();
    await postJson(noChallenge.browser, new URL(`${noChallenge.form.action}/options`, noChallenge.emailPage.url).href, noChallenge.form.fields._csrf!);
    const malformed = await postAnswer(noChallenge, { nope: true });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toContain('did not send a passkey answer');
  });

  it('counts refused passkey answers towards the lockout of the account they name', async () => {
    const { browser, accountId } = await accountBrowser('locked@example.com');
    const authenticator = new SoftAuthenticator(endpoint);
    await addPasskey(browser, authenticator, 'Key');
    const attacker = new HttpBrowser();
    let last: PageResponse | undefined;
    for (let i = 0; i < 10; i++) {
      const challenge = await passkeyChallenge(attacker);
      last = await postAnswer(challenge, authenticator.get(challenge.options, { origin: 'https://evil.example' }));
    }
    expect(last!.status).toBe(429);
    expect(last!.body).toContain('Too many failed attempts');
    // Paused: even a good answer from this browser and IP is not checked.
    const challenge = await passkeyChallenge(attacker);
    const good = await postAnswer(challenge, authenticator.get(challenge.options));
    expect(good.status).toBe(429);
    const lockouts = await sesame.db.selectFrom('audit_logs').select('data').where('user_id', '=', accountId).where('type', '=', 'Interaction.Lockout').execute();
    expect(lockouts.length).toBeGreaterThan(0);
    expect(JSON.parse(lockouts[0]!.data)).toMatchObject({ method: 'Passkey' });
  });

  it('lists and deletes a user\'s passkeys through the management API, audit-logged', async () => {
    const m2m = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, m2m.id, true, CLI);
    const issued = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: m2m.id, client_secret: m2m.secret, resource: `${endpoint}/api`, scope: 'all' }),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const api = async (method: string, path: string) => {
      const response = await fetch(`${endpoint}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    };
    const { browser, accountId } = await accountBrowser('api@example.com');
    await addPasskey(browser, new SoftAuthenticator(endpoint), 'Laptop');
    await addPasskey(browser, new SoftAuthenticator(endpoint), 'Phone');

    const list = await api('GET', `/api/users/${accountId}/passkeys`);
    expect(list.status).toBe(200);
    expect(list.json.map((p: { name: string }) => p.name)).toEqual(['Laptop', 'Phone']);
    expect(Object.keys(list.json[0]).sort()).toEqual(['backedUp', 'createdAt', 'deviceType', 'id', 'lastUsedAt', 'name', 'transports']);
    expect((await api('GET', '/api/users/nobody/passkeys')).status).toBe(404);
    expect((await fetch(`${endpoint}/api/users/${accountId}/passkeys`)).status).toBe(401);

    const deleted = await api('DELETE', `/api/users/${accountId}/passkeys/${list.json[0].id}`);
    expect(deleted.status).toBe(204);
    const again = await api('DELETE', `/api/users/${accountId}/passkeys/${list.json[0].id}`);
    expect(again.status).toBe(404);
    expect(again.json.message).toContain('no passkey with ID');
    expect((await api('GET', `/api/users/${accountId}/passkeys`)).json.map((p: { name: string }) => p.name)).toEqual(['Phone']);
    const [record] = await sesame.db.selectFrom('audit_logs').selectAll().where('type', '=', 'Management.User.Passkey.Delete').execute();
    expect(record).toMatchObject({ user_id: accountId, actor: `app:${m2m.id}` });
    expect(JSON.parse(record!.data)).toMatchObject({ passkeyName: 'Laptop' });

    const openapi = (await (await fetch(`${endpoint}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(openapi.paths['/api/users/{userId}/passkeys']?.get?.operationId).toBe('ListUserPasskeys');
    expect(openapi.paths['/api/users/{userId}/passkeys/{id}']?.delete?.operationId).toBe('DeleteUserPasskey');
  });
});
