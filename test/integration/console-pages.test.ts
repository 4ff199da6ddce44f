import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { signedInBrowser } from '../helpers/session.ts';
import type { HttpBrowser, PageResponse } from '../helpers/browser.ts';
import { setAdministrator } from '../../src/management/admins.ts';
import { CLI } from '../../src/management/audit.ts';
import { createUser } from '../../src/management/users.ts';
import { findApplication } from '../../src/db/applications.ts';
import { findUserById } from '../../src/db/users.ts';
import { AuditType, listAuditLogs, recordAudit } from '../../src/audit/log.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { removeEmailConnector, saveEmailConnector } from '../../src/management/email-connector.ts';
import { tempDir } from '../helpers/sesame.ts';

/** What the console's pages show and change, each change made through /api with the administrator's token. */
describe('admin console: pages', () => {
  let sesame: TestSesame;
  let endpoint: string;
  let browser: HttpBrowser;
  let adminId: string;

  beforeAll(async () => {
    sesame = await startTestSesame();
    endpoint = sesame.config.endpoint;
    ({ browser, accountId: adminId } = await signedInBrowser(sesame, 'root@example.com'));
    await setAdministrator(sesame.db, adminId, true, CLI);
    expect((await browser.follow(`${endpoint}/console`)).status).toBe(200);
  });
  afterAll(() => sesame?.stop());

  const get = (path: string) => browser.request(`${endpoint}${path}`);
  const appIdFrom = (page: PageResponse) => /\/console\/applications\/([a-z0-9]+)$/.exec(page.url)![1]!;

  it('creates a web app, shows its App Secret once with a copy button, and the integration values', async () => {
    const form = await get('/console/applications/new');
    const created = await browser.submit(form, '/console/applications', {
      name: 'Shop',
      type: 'traditional',
      redirectUris: 'https://shop.example.com/callback\r\n\r\nhttps://shop.example.com/cb2',
      postLogoutRedirectUris: 'https://shop.example.com/',
    });
    expect(created.status).toBe(200);
    const id = appIdFrom(created);
    const app = (await findApplication(sesame.db, id))!;
    expect(app).toMatchObject({ name: 'Shop', type: 'traditional', redirectUris: ['https://shop.example.com/callback', 'https://shop.example.com/cb2'], postLogoutRedirectUris: ['https://shop.example.com/'] });
    expect(created.body).toContain(`<code class="secret" id="new-secret">${app.secret}</code>`);
    expect(created.body).toContain('data-copy="new-secret"');
    expect(created.body).toContain(`appId: &#39;${id}&#39;`);
    expect(created.body).toContain(`endpoint: &#39;${endpoint}&#39;`);
    // Once: the next view shows only its start.
    const again = await get(`/console/applications/${id}`);
    expect(again.body).not.toContain(app.secret);
    expect(again.body).toContain(app.secret.slice(0, 4));
    // The change was made through /api by this administrator.
    const { rows } = await listAuditLogs(sesame.db, { type: 'Management.Application.Create', applicationId: id, page: 1, pageSize: 5 });
    expect(rows[0]).toMatchObject({ actor: `user:${adminId}` });
  });

  it('refuses a bad redirect URI next to its field, keeping everything typed', async () => {
    const form = await get('/console/applications/new');
    const refused = await browser.submit(form, '/console/applications', { name: 'Typed name', type: 'traditional', redirectUris: 'not a url', postLogoutRedirectUris: 'https://kept.example.com/' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/<p class="field-error" id="f-redirectUris-error">Each redirect URI must be an absolute http\(s\) URL/);
    expect(refused.body).toContain('aria-invalid="true"');
    expect(refused.body).toContain('value="Typed name"');
    expect(refused.body).toContain('>not a url</textarea>');
    expect(refused.body).toContain('>https://kept.example.com/</textarea>');
    // A refusal that only the API makes (the URI has a space the browser form let through) lands at the field too.
    const apiRefused = await browser.submit(form, '/console/applications', { name: 'X', type: 'traditional', redirectUris: 'https://a.example.com/a b' });
    expect(apiRefused.status).toBe(400);
    expect(apiRefused.body).toMatch(/id="f-redirectUris-error">[^<]*redirect URI/i);
  });

  it('edits, rotates the secret of and deletes (after confirmation) an app', async () => {
    const created = await browser.submit(await get('/console/applications/new'), '/console/applications', { name: 'Temp', type: 'traditional', redirectUris: 'https://t.example.com/cb' });
    const id = appIdFrom(created);
    const saved = await browser.submit(created, `/console/applications/${id}`, { name: 'Temp 2', redirectUris: 'https://t.example.com/cb\nhttps://t.example.com/cb3', postLogoutRedirectUris: '' });
    expect(saved.status).toBe(200);
    expect(saved.body).toContain('Saved.');
    expect(await findApplication(sesame.db, id)).toMatchObject({ name: 'Temp 2', redirectUris: ['https://t.example.com/cb', 'https://t.example.com/cb3'] });

    const oldSecret = (await findApplication(sesame.db, id))!.secret;
    const rotated = await browser.submit(saved, `/console/applications/${id}/secret`);
    const newSecret = (await findApplication(sesame.db, id))!.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.body).toContain(newSecret);

    const confirm = await get(`/console/applications/${id}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('cannot be undone');
    expect(await findApplication(sesame.db, id)).toBeDefined(); // the link alone deletes nothing
    const deleted = await browser.submit(confirm, `/console/applications/${id}/delete`);
    expect(deleted.url).toBe(`${endpoint}/console/applications`);
    expect(deleted.body).toContain('Deleted Temp 2.');
    expect(await findApplication(sesame.db, id)).toBeUndefined();
    expect((await get(`/console/applications/${id}`)).status).toBe(404);
  });

  it('finds users by email or ID, and pages through them', async () => {
    const passwords = createPasswordHasher();
    for (let i = 0; i < 23; i++) await createUser(sesame.db, { primaryEmail: `member${String(i).padStart(2, '0')}@club.example` }, { passwords }, CLI);
    const first = await get('/console/users?search=club.example');
    expect(first.status).toBe(200);
    expect(first.body).toContain('Page 1 of 2');
    expect(first.body).not.toContain('>root@example.com</a>');
    const second = await get('/console/users?search=club.example&page=2');
    // Users created in the same millisecond are ordered by their (random) ID, so which member lands on
    // which page is not fixed: every one is on exactly one of the two pages, 20 and 3.
    const members = (body: string) => [...body.matchAll(/>(member\d\d@club\.example)<\/a>/g)].map((match) => match[1]);
    expect(members(first.body)).toHaveLength(20);
    expect(members(second.body)).toHaveLength(3);
    expect([...members(first.body), ...members(second.body)].sort()).toEqual(
      Array.from({ length: 23 }, (_, i) => `member${String(i).padStart(2, '0')}@club.example`),
    );
    const byId = await get(`/console/users?search=${adminId}`);
    expect(byId.body).toContain('>root@example.com</a>');
    expect((await get('/console/users?search=nobody-here')).body).toContain('Nobody matches');
  });

  it('edits a profile and custom data, showing a JSON mistake next to the field with the text kept', async () => {
    const user = await createUser(sesame.db, { primaryEmail: 'kim@example.com' }, { passwords: createPasswordHasher() }, CLI);
    const page = await get(`/console/users/${user.id}`);
    expect(page.status).toBe(200);
    const saved = await browser.submit(page, `/console/users/${user.id}`, { email: 'kim@example.com', name: 'Kim', username: 'kim_1' });
    expect(saved.body).toContain('Profile saved.');
    expect(await findUserById(sesame.db, user.id)).toMatchObject({ name: 'Kim', username: 'kim_1' });

    const taken = await browser.submit(saved, `/console/users/${user.id}`, { email: 'root@example.com', name: 'Kim', username: 'kim_1' });
    expect(taken.status).toBe(400);
    expect(taken.body).toMatch(/id="f-email-error">Another user already has the email address root@example.com/);
    expect(taken.body).toContain('value="root@example.com"');

    const broken = await browser.submit(saved, `/console/users/${user.id}/custom-data`, { customData: '{"plan": "pro",}' });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatch(/id="f-customData-error">This is not valid JSON/);
    expect(broken.body).toContain('{&quot;plan&quot;: &quot;pro&quot;,}</textarea>');
    const list = await browser.submit(saved, `/console/users/${user.id}/custom-data`, { customData: '[1, 2]' });
    expect(list.body).toMatch(/id="f-customData-error">Custom data must be a JSON object/);
    const ok = await browser.submit(saved, `/console/users/${user.id}/custom-data`, { customData: '{"plan": "pro", "seats": 3}' });
    expect(ok.body).toContain('Custom data saved.');
    expect((await findUserById(sesame.db, user.id))!.customData).toEqual({ plan: 'pro', seats: 3 });
    // The user's recent activity lists what the administrator changed.
    expect(ok.body).toContain('Changed by an administrator: update');
    expect(ok.body).toContain('Management.User.Update');
  });

  it('suspends and restores, and deletes a user after confirmation', async () => {
    const user = await createUser(sesame.db, { primaryEmail: 'lee@example.com' }, { passwords: createPasswordHasher() }, CLI);
    const page = await get(`/console/users/${user.id}`);
    const suspended = await browser.submit(page, `/console/users/${user.id}/suspension`);
    expect(suspended.body).toContain('Suspended: they cannot sign in');
    expect((await findUserById(sesame.db, user.id))!.isSuspended).toBe(true);
    const restored = await browser.submit(suspended, `/console/users/${user.id}/suspension`);
    expect(restored.body).toContain('They may sign in again.');
    expect((await findUserById(sesame.db, user.id))!.isSuspended).toBe(false);

    const confirm = await get(`/console/users/${user.id}/delete`);
    expect(confirm.body).toContain('Delete lee@example.com');
    const deleted = await browser.submit(confirm, `/console/users/${user.id}/delete`);
    expect(deleted.url).toBe(`${endpoint}/console/users`);
    expect(await findUserById(sesame.db, user.id)).toBeUndefined();
    const gone = await get(`/console/users/${user.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toContain('No user with ID');
  });

  it('charts sign-ins, sign-ups and failures from the audit log, and lists what needs attention', async () => {
    const now = Date.now();
    await recordAudit(sesame.db, { type: AuditType.SignIn, result: 'success' }, now - 1000);
    await recordAudit(sesame.db, { type: AuditType.SignIn, result: 'success' }, now - 2 * 60 * 60 * 1000);
    await recordAudit(sesame.db, { type: AuditType.SignIn, result: 'success' }, now - 3 * 24 * 60 * 60 * 1000);
    await recordAudit(sesame.db, { type: AuditType.Register, result: 'success' }, now - 1000);
    await recordAudit(sesame.db, { type: AuditType.SignInCodeSubmit, result: 'failure' }, now - 1000);
    await recordAudit(sesame.db, { type: AuditType.PasswordSubmit, result: 'failure' }, now - 1000);
    await recordAudit(sesame.db, { type: AuditType.SignInCodeSent, result: 'failure', data: { reason: 'delivery_failed' } }, now - 1000);
    await recordAudit(sesame.db, { type: AuditType.SignInCodeSent, result: 'failure', data: { reason: 'cooldown' } }, now - 1000);
    // A web app with no redirect URI (possible through the API: PATCH with an empty list).
    const bare = await sesame.registerApp({ name: 'Bare app' });
    await sesame.db.updateTable('applications').set({ redirect_uris: '[]' }).where('id', '=', bare.id).execute();

    const page = await get('/console');
    expect(page.status).toBe(200);
    const total = (period: string, label: string) =>
      new RegExp(`id="period-${period}"[\\s\\S]*?<span class="chart-label">${label}</span>\\s*<span class="chart-total">(\\d+)</span>`).exec(page.body)?.[1];
    expect(total('24h', 'Sign-ins')).toBe('2');
    expect(total('30d', 'Sign-ins')).toBe('3');
    expect(total('24h', 'Sign-ups')).toBe('1');
    expect(total('24h', 'Failed attempts')).toBe('2');
    expect(page.body).toMatch(/Mail delivery failures<\/span>\s*<span class="chart-total text-danger">1</);
    expect(page.body).toContain('Bare app has no redirect URI');
    expect(page.body).toContain('1 mail delivery failure(s) in the last 24 hours');
    // Each chart's numbers are text too.
    expect(page.body).toContain('aria-label="Sign-ins, last 24 hours: 2 sign-ins in all');
    expect(page.body).not.toContain('Signing keys are due for rotation');

    // Keys made 100 days ago are due for rotation.
    await sesame.db.updateTable('server_keys').set({ created_at: now - 100 * 24 * 60 * 60 * 1000 }).where('purpose', '=', 'signing').execute();
    const later = await get('/console');
    expect(later.body).toContain('Signing keys are due for rotation');
    expect(later.body).toMatch(/is 100 days old/);
  });
});

describe('admin console: overview in production', () => {
  it('says so when no SMTP server is configured in production (the stored connector removed while running)', async () => {
    const dir = tempDir();
    let sesame = await startTestSesame({ dir: dir.path });
    try {
      await saveEmailConnector(sesame.db, { host: '127.0.0.1', port: 2525, fromEmail: 'no-reply@example.com' }, CLI);
      await sesame.stop();
      sesame = await startTestSesame({ dir: dir.path, env: { NODE_ENV: 'production' } });
      const { browser, accountId } = await signedInBrowser(sesame, 'ops@example.com');
      await setAdministrator(sesame.db, accountId, true, CLI);
      const before = await browser.follow(`${sesame.config.endpoint}/console`);
      expect(before.status).toBe(200);
      expect(before.body).not.toContain('No SMTP server configured');
      await removeEmailConnector(sesame.db, CLI);
      const after = await browser.request(`${sesame.config.endpoint}/console`);
      expect(after.body).toMatch(/attention-danger">\s*<strong>No SMTP server configured<\/strong>/);
    } finally {
      await sesame.stop();
      dir.remove();
    }
  });
});
