import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { signedInBrowser } from '../helpers/session.ts';
import { findForm, HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { setAdministrator } from '../../src/management/admins.ts';
import { CLI } from '../../src/management/audit.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { loadExperience, saveExperience } from '../../src/sign-in/experience.ts';
import { findResourceById, listScopes } from '../../src/db/resources.ts';
import { readSetting } from '../../src/db/settings.ts';
import { SMTP_CONNECTOR_SETTING } from '../../src/mail/mail-source.ts';
import { AuditType, recordAudit } from '../../src/audit/log.ts';
import { createUser } from '../../src/management/users.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { insertPasskey } from '../../src/db/passkeys.ts';
import { confirmTotp, findBackupCodeSet, findTotp, replaceBackupCodes, startTotpEnrolment } from '../../src/db/mfa.ts';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** The console's later pages: a user's sessions, API resources, the sign-in experience, email, the audit log. */
describe('admin console: sessions, resources, sign-in experience, email, audit log', () => {
  let sesame: TestSesameWithMail;
  let endpoint: string;
  let browser: HttpBrowser;
  let adminId: string;
  /** The management API as a script calls it: a machine-to-machine app's token. */
  let api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }>;

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
    api = async (method, path, body, headers = {}) => {
      const response = await fetch(`${sesame.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
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
    // The administrator's own sessions include the console's app, which has no page of its own.
    const own = await get(`/console/users/${adminId}`);
    expect(/id="sessions-heading"[\s\S]*?<\/section>/.exec(own.body)![0]).toContain('Sesame admin console');
    expect(own.body).not.toContain('href="/console/applications/sesame-console"');
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

  it("shows a user's passkeys and second factor, removes a passkey and resets the second factor after confirmation", async () => {
    const user = await createUser(sesame.db, { primaryEmail: 'factors@example.com' }, { passwords: createPasswordHasher() }, CLI);
    const at = Date.now();
    await insertPasskey(sesame.db, {
      id: 'pk-console-test', userId: user.id, credentialId: 'Y3JlZGVudGlhbC1jb25zb2xl', publicKey: 'cHVibGljLWtleQ', counter: 0, transports: ['internal'],
      deviceType: 'multiDevice', backedUp: true, name: 'Work laptop', createdAt: at, lastUsedAt: null,
    });
    await startTotpEnrolment(sesame.db, { id: 'totp-console-test', userId: user.id, secret: 'JBSWY3DPEHPK3PXP', createdAt: at });
    expect(await confirmTotp(sesame.db, user.id, 'JBSWY3DPEHPK3PXP', Math.floor(at / 30_000), at)).toBe(true);
    await replaceBackupCodes(sesame.db, user.id, { setId: 'set-console-test', codes: [{ id: 'b1', hash: 'h1' }, { id: 'b2', hash: 'h2' }], at });

    const page = await get(`/console/users/${user.id}`);
    const panel = /id="factors-heading"[\s\S]*?<\/section>/.exec(page.body)![0];
    expect(panel).toContain('Passkey “Work laptop”');
    expect(panel).toContain('Authenticator app');
    expect(panel).toContain('2 backup codes left');
    expect(panel).not.toContain('JBSWY3DPEHPK3PXP'); // never the secret

    // A passkey: confirmation first (a GET changes nothing), then removal.
    const confirm = await get(`/console/users/${user.id}/factors/pk-console-test/remove`);
    expect(confirm.body).toContain('Remove the passkey “Work laptop” of factors@example.com?');
    expect((await get(`/console/users/${user.id}`)).body).toContain('Work laptop');
    const removed = await browser.submit(confirm, `/console/users/${user.id}/factors/pk-console-test/remove`, {});
    expect(removed.body).toContain('Removed. It no longer signs them in.');
    expect(removed.body).not.toContain('Work laptop');

    // The second factor: the authenticator and its backup codes together, audit-logged with the administrator.
    const reset = await get(`/console/users/${user.id}/factors/totp-console-test/remove`);
    expect(reset.body).toContain('Reset the second factor of factors@example.com?');
    const done = await browser.submit(reset, `/console/users/${user.id}/factors/totp-console-test/remove`, {});
    expect(done.body).toContain('No passkey and no second factor');
    expect(await findTotp(sesame.db, user.id)).toBeUndefined();
    expect(await findBackupCodeSet(sesame.db, user.id)).toBeUndefined();
    const { json: logs } = await api('GET', `/api/logs?userId=${user.id}&logKey=Management.User.*`);
    expect((logs as { key: string; payload: { actor?: string } }[]).map((log) => log.key)).toEqual(expect.arrayContaining(['Management.User.MfaVerification.Delete']));

    // Gone already: a readable notice, not an error page.
    const again = await browser.submit(reset, `/console/users/${user.id}/factors/totp-console-test/remove`, {});
    expect(again.body).toContain('removed already');
  });

  const experienceFields = {
    signInMode: 'SignInAndRegister',
    methodCode: 'on',
    methodPassword: 'on',
    primaryMethod: 'verificationCode',
    passwordAtSignUp: 'optional',
    codeTtlMinutes: '15',
    codeMaxAttempts: '4',
    codeLink: '',
    passwordMinLength: '12',
    rejectCommon: 'on',
    rejectEmail: '',
    mfaPolicy: 'optional',
    autoDetectLanguage: '',
    fallbackLanguage: 'de',
  };

  it('saves every sign-in experience setting, and refuses an impossible combination next to its field, keeping the form', async () => {
    const page = await get('/console/sign-in-experience');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<iframe class="preview-frame"');
    expect(page.body).toMatch(/<option value="ar" lang="ar">/);
    const saved = await browser.submit(page, '/console/sign-in-experience', experienceFields);
    expect(saved.body).toContain('Saved. The next sign-in uses the new settings.');
    expect(await loadExperience(sesame.db)).toEqual({
      signInMode: 'SignInAndRegister',
      passwordAtSignUp: 'optional',
      signInMethods: ['verificationCode', 'password'],
      verificationCode: { ttlMinutes: 15, maxAttempts: 4, link: false },
      passwordPolicy: { minLength: 12, rejectCommon: true, rejectEmail: false },
      mfa: { policy: 'optional' },
      languageInfo: { autoDetect: false, fallbackLanguage: 'de' },
    });
    expect(saved.body).toMatch(/<option value="de" lang="de" selected>/);
    const unknownLanguage = await browser.submit(saved, '/console/sign-in-experience', { ...experienceFields, fallbackLanguage: 'xx' });
    expect(unknownLanguage.status).toBe(400);
    expect(unknownLanguage.body).toMatch(/id="f-fallbackLanguage-error">Choose one of Sesame's languages/);
    await saveExperience(sesame.db, { languageInfo: { autoDetect: true, fallbackLanguage: 'en' } }, Date.now());
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
    // The console's own pages may be framed by nobody; the preview by the console only.
    const form = await get('/console/sign-in-experience');
    expect(form.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    expect(both.headers.get('x-frame-options')).toBe('SAMEORIGIN');
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

  const storedSmtp = async () => (await readSetting<Record<string, any>>(sesame.db, SMTP_CONNECTOR_SETTING))?.value;

  it('stores the SMTP connector from a form (TLS from the port, the password kept when unchanged) and sends a test mail showing the answer or the exact error', async () => {
    const page = await get('/console/email');
    expect(page.status).toBe(200);
    expect(page.body).toContain('SMTP_* variables');
    expect(page.body).toContain('Port 587: STARTTLS, required.');

    const refused = await browser.submit(page, '/console/email', { host: 'smtp example', port: '70000', user: '', pass: '', fromEmail: '' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/id="f-host-error">A host name or IP address/);
    expect(refused.body).toMatch(/id="f-port-error">A port from 1 to 65535/);
    expect(refused.body).toMatch(/id="f-fromEmail-error">Enter the sender/);
    expect(refused.body).toContain('value="smtp example"');
    const badFrom = await browser.submit(page, '/console/email', { host: '127.0.0.1', port: String(sesame.smtp.port), user: '', pass: '', fromEmail: 'not an address' });
    expect(badFrom.status).toBe(400);
    expect(badFrom.body).toMatch(/id="f-fromEmail-error">FromEmail must be one email address/);

    const implicit = await browser.submit(page, '/console/email', { host: '127.0.0.1', port: '465', user: 'mailer', pass: 'secret', fromEmail: 'Ops <ops@example.com>' });
    expect(implicit.body).toContain('Saved.');
    expect(implicit.body).toContain('Port 465: implicit TLS.');
    expect(await storedSmtp()).toMatchObject({ host: '127.0.0.1', port: 465, secure: true, requireTLS: false, auth: { user: 'mailer', pass: 'secret' } });
    // The password reads as ******** and, sent back unchanged, stays.
    expect(implicit.body).toMatch(/name="pass" type="password" value="\*\*\*\*\*\*\*\*"/);
    expect(implicit.body).not.toContain('secret');
    const saved = await browser.submit(implicit, '/console/email', { host: '127.0.0.1', port: String(sesame.smtp.port), user: 'mailer', pass: '********', fromEmail: 'Ops <ops@example.com>' });
    expect(saved.body).toContain(`Port ${sesame.smtp.port}: STARTTLS when the server offers it.`);
    expect(await storedSmtp()).toMatchObject({ port: sesame.smtp.port, secure: false, requireTLS: false, auth: { user: 'mailer', pass: 'secret' } });
    expect(saved.body).toContain('SMTP connector</span> Through the connector below');

    const before = sesame.smtp.countFor('ops-check@example.com');
    const tested = await browser.submit(saved, '/console/email/test', { to: 'ops-check@example.com' });
    expect(tested.body).toMatch(/Sent\. The SMTP server answered:<\/strong>\s*<pre class="smtp-answer">250 /);
    const mail = await sesame.smtp.waitForMail('ops-check@example.com', { after: before });
    expect(mail.subject).toBe('Sesame test email');
    expect(mail.from).toContain('ops@example.com');

    // The API route itself: 204 as in Logto, or the server's reply when asked for it.
    expect((await api('POST', '/api/connectors/simple-mail-transfer-protocol/test', { email: 'ops-check@example.com' })).status).toBe(204);
    const answered = await api('POST', '/api/connectors/simple-mail-transfer-protocol/test', { email: 'ops-check@example.com' }, { prefer: 'return=representation' });
    expect(answered.status).toBe(200);
    expect(answered.json.response).toMatch(/^250 /);

    sesame.smtp.refuse = 'permanent';
    try {
      const failed = await browser.submit(saved, '/console/email/test', { to: 'ops-check@example.com' });
      expect(failed.body).toMatch(/Sending failed:<\/strong>\s*<pre class="smtp-answer">The mail server at 127\.0\.0\.1:\d+ refused the recipient: 550 5\.1\.1/);
    } finally {
      sesame.smtp.refuse = false;
    }
  });

  it('edits the raw JSON in Logto\'s format, keeping the text on a refusal', async () => {
    const page = await get('/console/email');
    expect(page.body).toContain('&quot;fromEmail&quot;: &quot;Ops &lt;ops@example.com&gt;&quot;');
    expect(page.body).toContain('&quot;pass&quot;: &quot;********&quot;');
    const broken = await browser.submit(page, '/console/email/raw', { raw: '{"host": "127.0.0.1",' });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatch(/id="f-raw-error">This is not valid JSON/);
    expect(broken.body).toContain('{&quot;host&quot;: &quot;127.0.0.1&quot;,</textarea>');
    expect(broken.body).toMatch(/<details class="panel raw" open>/);
    const config = { ...(await storedSmtp()), auth: { user: 'mailer', pass: '********' }, replyTo: 'help@example.com', port: 'many' };
    const invalid = await browser.submit(page, '/console/email/raw', { raw: JSON.stringify(config) });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatch(/id="f-raw-error">Port must be an integer/);
    const ok = await browser.submit(page, '/console/email/raw', { raw: JSON.stringify({ ...config, port: sesame.smtp.port }) });
    expect(ok.body).toContain('Saved the connector config.');
    expect(await storedSmtp()).toMatchObject({ replyTo: 'help@example.com', auth: { pass: 'secret' } });
  });

  it('edits templates per usage type with a rendered preview, the draft previewed without saving', async () => {
    const builtIn = await get('/console/email/templates/Register');
    expect(builtIn.status).toBe(200);
    expect(builtIn.body).toContain('Built-in</span>');
    const builtInPreview = await get('/console/email/templates/Register/preview');
    expect(builtInPreview.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(builtInPreview.body).toContain('123456');
    expect(builtInPreview.body).toContain('<iframe class="mail-body"');

    // "Preview draft" posts the template form to the preview route (formaction), into the frame.
    const { fields } = findForm(builtIn.body, '/console/email/templates/Register');
    const draft = await browser.request(`${endpoint}/console/email/templates/Register/preview`, { form: { ...fields, subject: 'Welcome to {{application.name}}', contentType: 'text/plain', content: 'Code: {{code}}' } });
    expect(draft.body).toContain('<strong>Welcome to Your app</strong>');
    expect(draft.body).toContain('<pre class="mail-plain">Code: 123456</pre>');
    expect((await storedSmtp())!.templates ?? []).toEqual([]);

    const refused = await browser.submit(builtIn, '/console/email/templates/Register', { subject: 'Two\nlines', contentType: 'text/plain', content: '' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/id="f-subject-error">A subject is one line/);
    expect(refused.body).toMatch(/id="f-content-error">Write the body/);
    const saved = await browser.submit(await get('/console/email/templates/Generic'), '/console/email/templates/Generic', { subject: 'Notice: {{subject}}', contentType: 'text/html', content: '<p>{{message}}</p>' });
    expect(saved.body).toContain('Custom</span> This template is in use.');
    expect((await storedSmtp())!.templates).toEqual([{ usageType: 'Generic', contentType: 'text/html', subject: 'Notice: {{subject}}', content: '<p>{{message}}</p>' }]);
    // The register email now falls back to the Generic template.
    expect((await get('/console/email/templates/Register')).body).toContain('the Generic template is used');
    // A test mail (a Generic notice) goes out with it.
    const before = sesame.smtp.countFor('ops-check@example.com');
    await browser.submit(await get('/console/email'), '/console/email/test', { to: 'ops-check@example.com' });
    expect((await sesame.smtp.waitForMail('ops-check@example.com', { after: before })).subject).toBe('Notice: Sesame test email');

    const reset = await browser.submit(saved, '/console/email/templates/Generic/reset');
    expect(reset.body).toContain('Built-in</span>');
    expect((await storedSmtp())!.templates).toEqual([]);
    expect((await get('/console/email/templates/Nope')).status).toBe(404);
  });

  it('removes the connector after confirmation, handing back to the SMTP_* variables', async () => {
    const confirm = await get('/console/email/remove');
    expect(confirm.body).toContain('cannot be undone');
    const removed = await browser.submit(confirm, '/console/email/remove');
    expect(removed.body).toContain('Removed the stored SMTP connector.');
    expect(await storedSmtp()).toBeUndefined();
    expect(removed.body).toContain('SMTP_* variables');
  });

  it('filters the audit log by user (email or ID), app, event type (exact or prefix) and time, pages through it, and shows one event', async () => {
    const user = await createUser(sesame.db, { primaryEmail: 'audited@example.com' }, { passwords: createPasswordHasher() }, CLI);
    const app = await sesame.registerApp({ name: 'Audited app' });
    const base = Date.UTC(2026, 0, 15, 10, 0);
    for (let i = 0; i < 25; i++) {
      await recordAudit(sesame.db, { type: AuditType.SignIn, result: 'success', userId: user.id, applicationId: app.id, ip: '203.0.113.9', userAgent: FIREFOX, data: { method: 'VerificationCode' } }, base + i * 60_000);
    }
    await recordAudit(sesame.db, { type: AuditType.PasswordSubmit, result: 'failure', userId: user.id, data: { reason: 'wrong_password' } }, base + 30 * 60_000);

    const byEmail = await get('/console/logs?user=audited@example.com');
    expect(byEmail.status).toBe(200);
    // 25 sign-ins, a wrong password, and the account's creation.
    expect(byEmail.body).toContain('27 event(s) match.');
    expect(byEmail.body).toContain('Page 1 of 2');
    expect(byEmail.body).toContain('Wrong password');
    const second = await get(`/console/logs?user=audited%40example.com&page=2`);
    expect(second.body).toContain('Page 2 of 2');
    expect((await get(`/console/logs?userId=${user.id}`)).body).toContain('27 event(s) match.');

    const exact = await get(`/console/logs?user=${user.id}&type=Interaction.SignIn.Submit`);
    expect(exact.body).toContain('25 event(s) match.');
    const prefix = await get(`/console/logs?user=${user.id}&type=Interaction.SignIn.*`);
    expect(prefix.body).toContain('26 event(s) match.');
    const byApp = await get(`/console/logs?applicationId=${app.id}`);
    expect(byApp.body).toContain('25 event(s) match.');
    expect(byApp.body).toMatch(new RegExp(`<option value="${app.id}" selected>Audited app</option>`));
    // 10:00 to 10:04 UTC, the last minute whole.
    const window = await get(`/console/logs?user=${user.id}&from=2026-01-15T10:00&to=2026-01-15T10:04`);
    expect(window.body).toContain('5 event(s) match.');

    const backwards = await get('/console/logs?from=2026-01-15T10:00&to=2026-01-14T10:00');
    expect(backwards.status).toBe(400);
    expect(backwards.body).toMatch(/id="f-to-error">The end is before the start/);
    expect(backwards.body).toContain('value="2026-01-14T10:00"');
    const nobody = await get('/console/logs?user=ghost@example.com');
    expect(nobody.body).toMatch(/id="f-user-error">Nobody has the email address ghost@example.com/);

    const id = /href="\/console\/logs\/([^"]+)">Wrong password/.exec(byEmail.body)![1]!;
    const detail = await get(`/console/logs/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toContain('Interaction.SignIn.Verification.Password.Submit');
    expect(detail.body).toContain(`<a href="/console/users/${user.id}">audited@example.com</a>`);
    expect(detail.body).toContain('&quot;reason&quot;: &quot;wrong_password&quot;');
    expect((await get('/console/logs/no-such-record')).status).toBe(404);

    // A change made in this console names the administrator who made it.
    const changes = await get('/console/logs?type=Management.Resource.*');
    const change = /href="\/console\/logs\/([^"]+)"/.exec(changes.body)![1]!;
    expect((await get(`/console/logs/${change}`)).body).toContain(`<a href="/console/users/${adminId}">administrator root@example.com</a>`);
  });
});
