import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { signedInBrowser } from '../helpers/session.ts';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { setAdministrator } from '../../src/management/admins.ts';
import { CLI } from '../../src/management/audit.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { loadExperience } from '../../src/sign-in/experience.ts';
import { findResourceById, listScopes } from '../../src/db/resources.ts';
import { listAuditLogs, recordAudit } from '../../src/audit/log.ts';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** The console's later pages: a user's sessions, API resources, the sign-in experience, email, the audit log. */
describe('admin console: sessions, resources, sign-in experience, email, audit log', () => {
  let sesame: TestSesameWithMail;
  let endpoint: string;
  let browser: HttpBrowser;
  let adminId: string;
  /** The management API as a script calls it: a machine-to-machine app's token. */
  let api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    const automation = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, automation.id, true, CLI);
    const issued = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: automation.id, client_secret: automation.secret, resource: `${sesame.config.endpoint}/api`, scope: 'all' }),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    api = async (method, path, body) => {
      const response = await fetch(`${sesame.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    };
    endpoint = sesame.config.endpoint;
    ({ browser, accountId: adminId } = await signedInBrowser(sesame, 'root@example.com'));
    await setAdministrator(sesame.db, adminId, true, CLI);
    expect((await browser.follow(`${endpoint}/console`)).status).toBe(200);
  });
  afterAll(() => sesame?.stop());

  const get = (path: string) => browser.request(`${endpoint}${path}`);
  const idFrom = (page: PageResponse, what: string) => new RegExp(`/console/${what}/([^/?#]+)$`).exec(page.url)![1]!;

  it("lists a user's sessions with app, device and times, and revoking them stops their refresh token", async () => {
    const app = await sesame.registerApp({ name: 'Bookshop', redirectUris: ['http://127.0.0.1:9/cb'] });
    const config = await discover(sesame.issuer, app);
    const person = new HttpBrowser({ 'user-agent': FIREFOX });
    const start = await startAuthorization(config, 'http://127.0.0.1:9/cb');
    const { callback } = await signInWithEmail(person, sesame.smtp, start, 'reader@example.com', 'http://127.0.0.1:9/cb');
    const tokens = await exchange(config, callback, start);
    expect(tokens.refresh_token).toBeTruthy();
    const userId = tokens.claims()!.sub;

    const { status, body } = await browser.request(`${endpoint}/console/users/${userId}`);
    expect(status).toBe(200);
    const sessions = /id="sessions-heading"[\s\S]*?<\/section>/.exec(body)![0];
    expect(sessions).toContain('Firefox on Linux');
    expect(sessions).toContain('127.0.0.1');
    expect(sessions).toContain('by emailed code');
    expect(sessions).toContain(`<a href="/console/applications/${app.id}">Bookshop</a>`);
    expect(sessions).toContain('refresh token');
    // The same through the API, for scripts.
    const listed = await api('GET', `/api/users/${userId}/sessions`);
    expect(listed.status).toBe(200);
    expect(listed.json).toHaveLength(1);
    expect(listed.json[0]).toMatchObject({ active: true, signInMethods: ['email'], ip: '127.0.0.1', userAgent: FIREFOX, applications: [{ id: app.id, name: 'Bookshop' }] });
    expect(listed.json[0].applications[0].refreshTokenExpiresAt).toBeGreaterThan(Date.now());
    expect(listed.json[0].signedInAt).toBeLessThanOrEqual(listed.json[0].lastActiveAt);
    expect((await api('GET', '/api/users/nobody/sessions')).status).toBe(404);

    // A refresh works, then the administrator revokes everything and it stops working.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const revoked = await browser.submit(await get(`/console/users/${userId}`), `/console/users/${userId}/sessions`);
    expect(revoked.body).toContain('Signed out everywhere');
    expect(revoked.body).toContain('Not signed in anywhere');
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api('GET', `/api/users/${userId}/sessions`)).json).toEqual([]);
  });

  it('registers an API resource, edits it (the identifier stays), adds and removes scopes, and deletes it after confirmation', async () => {
    const form = await get('/console/resources/new');
    expect(form.status).toBe(200);
    const refused = await browser.submit(form, '/console/resources', { name: 'Orders', indicator: 'not a uri', accessTokenTtl: '30' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/id="f-indicator-error">The identifier must be an absolute URI/);
    expect(refused.body).toMatch(/id="f-accessTokenTtl-error">A whole number of seconds from 60/);
    expect(refused.body).toContain('value="not a uri"');
    expect(refused.body).toContain('value="Orders"');

    const created = await browser.submit(form, '/console/resources', { name: 'Orders', indicator: 'https://orders.example.com', accessTokenTtl: '900' });
    expect(created.status).toBe(200);
    const id = idFrom(created, 'resources');
    expect(await findResourceById(sesame.db, id)).toMatchObject({ name: 'Orders', indicator: 'https://orders.example.com', accessTokenTtl: 900 });
    // The API refuses a taken identifier; the console shows it next to the field.
    const taken = await browser.submit(form, '/console/resources', { name: 'Again', indicator: 'https://orders.example.com', accessTokenTtl: '900' });
    expect(taken.status).toBe(400);
    expect(taken.body).toMatch(/id="f-indicator-error">[^<]*indicator/i);

    const saved = await browser.submit(created, `/console/resources/${id}`, { name: 'Orders API', accessTokenTtl: '1800', indicator: 'https://ignored.example.com' });
    expect(saved.body).toContain('Saved.');
    expect(await findResourceById(sesame.db, id)).toMatchObject({ name: 'Orders API', indicator: 'https://orders.example.com', accessTokenTtl: 1800 });
    expect(saved.body).toMatch(/id="f-indicator" type="text" value="https:\/\/orders.example.com" readonly/);

    const added = await browser.submit(saved, `/console/resources/${id}/scopes`, { scope: 'read:orders', description: 'See orders' });
    expect(added.body).toContain('Added the scope read:orders.');
    const bad = await browser.submit(added, `/console/resources/${id}/scopes`, { scope: 'openid', description: '' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/id="f-scope-error">[^<]*reserved for OpenID Connect/);
    expect(bad.body).toContain('value="openid"');
    const scopes = await listScopes(sesame.db, id);
    expect(scopes.map((scope) => scope.name)).toEqual(['read:orders']);
    const removed = await browser.submit(added, `/console/resources/${id}/scopes/${scopes[0]!.id}/delete`);
    expect(removed.body).toContain('Removed the scope.');
    expect(await listScopes(sesame.db, id)).toEqual([]);

    const list = await get('/console/resources');
    expect(list.body).toContain('Orders API');
    const confirm = await get(`/console/resources/${id}/delete`);
    expect(confirm.body).toContain('cannot be undone');
    const deleted = await browser.submit(confirm, `/console/resources/${id}/delete`);
    expect(deleted.url).toBe(`${endpoint}/console/resources`);
    expect(await findResourceById(sesame.db, id)).toBeUndefined();
  });

  const experienceFields = {
    signInMode: 'SignInAndRegister',
    methodCode: 'on',
    methodPassword: 'on',
    primaryMethod: 'verificationCode',
    passwordAtSignUp: 'optional',
    codeTtlMinutes: '15',
    codeMaxAttempts: '4',
    passwordMinLength: '12',
    rejectCommon: 'on',
    rejectEmail: '',
  };

  it('saves every sign-in experience setting, and refuses an impossible combination next to its field, keeping the form', async () => {
    const page = await get('/console/sign-in-experience');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<iframe class="preview-frame"');
    const saved = await browser.submit(page, '/console/sign-in-experience', experienceFields);
    expect(saved.body).toContain('Saved. The next sign-in uses the new settings.');
    expect(await loadExperience(sesame.db)).toEqual({
      signInMode: 'SignInAndRegister',
      passwordAtSignUp: 'optional',
      signInMethods: ['verificationCode', 'password'],
      verificationCode: { ttlMinutes: 15, maxAttempts: 4 },
      passwordPolicy: { minLength: 12, rejectCommon: true, rejectEmail: false },
    });
    expect(saved.body).toMatch(/name="passwordAtSignUp" value="optional" checked/);

    const refused = await browser.submit(saved, '/console/sign-in-experience', { ...experienceFields, methodCode: '', passwordAtSignUp: 'off', codeTtlMinutes: '15' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/id="f-passwordAtSignUp-error">With passwords as the only way to sign in/);
    expect(refused.body).toMatch(/name="passwordAtSignUp" value="off" checked/);
    expect(refused.body).not.toMatch(/name="methodCode" value="on" checked/);
    const outOfRange = await browser.submit(saved, '/console/sign-in-experience', { ...experienceFields, codeMaxAttempts: '9' });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.body).toMatch(/id="f-codeMaxAttempts-error">Tries per code: a whole number from 1 to 5/);
    expect(outOfRange.body).toContain('value="9"');
    expect((await loadExperience(sesame.db)).verificationCode.maxAttempts).toBe(4);
  });

  it('previews the real sign-in page with draft settings, framable by the console only, inert, and validated', async () => {
    const query = (fields: Record<string, string>, step = 'email') => `/console/sign-in-experience/preview?${new URLSearchParams({ ...experienceFields, ...fields, step })}`;
    const both = await get(query({}));
    expect(both.status).toBe(200);
    expect(both.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(both.headers.get('content-security-policy')).toContain('sandbox');
    expect(both.headers.get('content-security-policy')).toContain("form-action 'none'");
    expect(both.body).toContain('<link rel="stylesheet" href="/assets/sesame.css">');
    expect(both.body).toContain('Sign in with a password instead');
    expect(both.body).toContain('to continue to <strong>Your app</strong>');
    expect(both.body).not.toContain('/interaction/');
    const codeOnly = await get(query({ methodPassword: '' }));
    expect(codeOnly.body).not.toContain('Sign in with a password instead');
    // Password only: the email page says what comes next, as the real one does.
    const passwordOnly = await get(query({ methodCode: '', passwordAtSignUp: 'required' }));
    expect(passwordOnly.body).toContain('Next, you will enter your password.');
    const create = await get(query({ passwordMinLength: '14' }, 'create-password'));
    expect(create.body).toContain('minlength="14"');
    expect(create.body).toContain('Skip');
    const none = await get(query({ passwordAtSignUp: 'off' }, 'create-password'));
    expect(none.body).toContain('Not shown with these settings');
    const invalid = await get(query({ methodCode: '', passwordAtSignUp: 'off' }));
    expect(invalid.status).toBe(400);
    expect(invalid.body).toContain('With passwords as the only way to sign in');
    // Only for a signed-in administrator.
    const stranger = await new HttpBrowser().request(`${endpoint}${query({})}`);
    expect(stranger.status).toBe(303);
  });
});
