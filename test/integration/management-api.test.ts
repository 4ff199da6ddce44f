import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import type { Application } from '../../src/db/applications.ts';

/** The management API against a real Sesame: every route, through real client_credentials tokens. */
describe('management API', () => {
  let sesame: TestSesameWithMail;
  let admin: Application;
  let token: string;
  let api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; headers: Headers; json: any }>;

  async function clientCredentials(app: Pick<Application, 'id' | 'secret'>, params: Record<string, string>) {
    const response = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: app.id, client_secret: app.secret, ...params }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    admin = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, admin.id, true, CLI);
    const issued = await clientCredentials(admin, { resource: `${sesame.config.endpoint}/api`, scope: 'all' });
    expect(issued.status).toBe(200);
    token = issued.json.access_token;
    api = async (method, path, body, headers = {}) => {
      const response = await fetch(`${sesame.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
    };
  });
  afterAll(() => sesame?.stop());

  it('issues a JWT for the management API with the scope all', () => {
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    expect(claims).toMatchObject({ aud: `${sesame.config.endpoint}/api`, scope: 'all', client_id: admin.id, sub: admin.id, iss: sesame.issuer });
  });

  it('lists, creates, reads, updates and deletes applications', async () => {
    const created = await api('POST', '/api/applications', {
      name: 'Shop',
      type: 'Traditional',
      oidcClientMetadata: { redirectUris: ['https://shop.example.com/callback'], postLogoutRedirectUris: [] },
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ name: 'Shop', type: 'Traditional', isAdmin: false, tokenEndpointAuthMethod: 'client_secret_basic' });
    expect(created.json.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    const id = created.json.id;

    const list = await api('GET', '/api/applications?page=1&page_size=1');
    expect(list.status).toBe(200);
    expect(list.json).toHaveLength(1);
    expect(Number(list.headers.get('total-number'))).toBe(2);
    const machines = await api('GET', '/api/applications?types=MachineToMachine');
    expect(machines.json.map((app: { id: string }) => app.id)).toEqual([admin.id]);

    expect((await api('GET', `/api/applications/${id}`)).json.oidcClientMetadata.redirectUris).toEqual(['https://shop.example.com/callback']);
    const patched = await api('PATCH', `/api/applications/${id}`, { name: 'Shop 2', oidcClientMetadata: { redirectUris: ['https://shop.example.com/cb2'] } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: 'Shop 2', oidcClientMetadata: { redirectUris: ['https://shop.example.com/cb2'] } });

    const rotated = await api('POST', `/api/applications/${id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.secret).not.toBe(created.json.secret);
    expect((await api('GET', `/api/applications/${id}`)).json.secret).toBe(rotated.json.secret);

    expect((await api('DELETE', `/api/applications/${id}`)).status).toBe(204);
    const gone = await api('GET', `/api/applications/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ code: 'entity.not_found' });
    expect(gone.json.message).toContain(id);
  });

  it('refuses a traditional app without redirect URIs, and isAdmin on it', async () => {
    const refused = await api('POST', '/api/applications', { name: 'Web', type: 'Traditional' });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain('redirect');
    const web = await api('POST', '/api/applications', { name: 'Web', type: 'Traditional', oidcClientMetadata: { redirectUris: ['https://w.example.com/cb'], postLogoutRedirectUris: [] } });
    const admin = await api('PATCH', `/api/applications/${web.json.id}`, { isAdmin: true });
    expect(admin.status).toBe(400);
    expect(admin.json.message).toContain('only machine-to-machine apps');
  });

  it('manages users: create, list with search and pages, get, patch, custom data, suspend, sessions, delete', async () => {
    const alice = await api('POST', '/api/users', { primaryEmail: 'Alice@Example.com', username: 'alice', name: 'Alice', customData: { plan: 'free' } });
    expect(alice.status).toBe(200);
    expect(alice.json).toMatchObject({ primaryEmail: 'alice@example.com', username: 'alice', name: 'Alice', isSuspended: false, hasPassword: false, customData: { plan: 'free' } });
    const bob = await api('POST', '/api/users', { primaryEmail: 'bob@example.org', password: 'a long and unusual passphrase' });
    expect(bob.json.hasPassword).toBe(true);
    for (let i = 0; i < 3; i++) expect((await api('POST', '/api/users', { primaryEmail: `reader${i}@example.net` })).status).toBe(200);

    const taken = await api('POST', '/api/users', { primaryEmail: 'alice@example.com' });
    expect(taken.status).toBe(422);
    expect(taken.json.message).toContain('alice@example.com');
    const weak = await api('POST', '/api/users', { primaryEmail: 'weak@example.com', password: 'password' });
    expect(weak.status).toBe(400);
    expect(weak.json.message).toMatch(/^password: /);
    const noEmail = await api('POST', '/api/users', { username: 'nobody' });
    expect(noEmail.status).toBe(400);
    expect(noEmail.json.data.field).toBe('body.primaryEmail');

    const page1 = await api('GET', '/api/users?page=1&page_size=2');
    expect(page1.json.map((user: { primaryEmail: string }) => user.primaryEmail)).toEqual(['alice@example.com', 'bob@example.org']);
    expect(page1.headers.get('total-number')).toBe('5');
    const page3 = await api('GET', '/api/users?page=3&page_size=2');
    expect(page3.json.map((user: { primaryEmail: string }) => user.primaryEmail)).toEqual(['reader2@example.net']);
    const found = await api('GET', `/api/users?search=${encodeURIComponent('%EXAMPLE.NET')}`);
    expect(found.json).toHaveLength(3);
    expect(found.headers.get('total-number')).toBe('3');
    expect((await api('GET', '/api/users?search=ali')).json.map((user: { id: string }) => user.id)).toEqual([alice.json.id]);
    expect((await api('GET', '/api/users?search=_')).json).toHaveLength(0); // LIKE's _ is text here

    const id = alice.json.id;
    expect((await api('GET', `/api/users/${id}`)).json.primaryEmail).toBe('alice@example.com');
    const patched = await api('PATCH', `/api/users/${id}`, { name: null, username: 'alice2', primaryEmail: 'alice@example.io' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: null, username: 'alice2', primaryEmail: 'alice@example.io' });
    expect((await api('PATCH', `/api/users/${id}`, { primaryEmail: 'bob@example.org' })).status).toBe(422);
    expect((await api('PATCH', `/api/users/${id}`, { username: 'not valid!' })).status).toBe(400);

    const merged = await api('PATCH', `/api/users/${id}/custom-data`, { customData: { theme: 'dark' } });
    expect(merged.json).toEqual({ plan: 'free', theme: 'dark' });
    expect((await api('GET', `/api/users/${id}/custom-data`)).json).toEqual({ plan: 'free', theme: 'dark' });
    const replaced = await api('PATCH', `/api/users/${id}`, { customData: { plan: 'pro' } });
    expect(replaced.json.customData).toEqual({ plan: 'pro' });

    const suspended = await api('PATCH', `/api/users/${id}/is-suspended`, { isSuspended: true });
    expect(suspended.json.isSuspended).toBe(true);
    expect((await api('PATCH', `/api/users/${id}/is-suspended`, { isSuspended: false })).json.isSuspended).toBe(false);
    expect((await api('PATCH', `/api/users/${id}/is-suspended`, { isSuspended: 'yes' })).status).toBe(400);

    expect((await api('DELETE', `/api/users/${id}/sessions`)).status).toBe(204);
    expect((await api('DELETE', `/api/users/${id}`)).status).toBe(204);
    for (const [method, path, body] of [
      ['GET', `/api/users/${id}`],
      ['PATCH', `/api/users/${id}`, { name: 'x' }],
      ['GET', `/api/users/${id}/custom-data`],
      ['PATCH', `/api/users/${id}/custom-data`, { customData: {} }],
      ['PATCH', `/api/users/${id}/is-suspended`, { isSuspended: true }],
      ['DELETE', `/api/users/${id}/sessions`],
      ['DELETE', `/api/users/${id}`],
    ] as const) {
      const response = await api(method, path, body);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.json.code).toBe('entity.not_found');
    }
  });

  it('manages API resources and their scopes', async () => {
    const created = await api('POST', '/api/resources', { name: 'Books', indicator: 'https://books.example.com', accessTokenTtl: 600 });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ name: 'Books', indicator: 'https://books.example.com', accessTokenTtl: 600, isDefault: false, scopes: [] });
    const id = created.json.id;
    expect((await api('POST', '/api/resources', { name: 'Again', indicator: 'https://books.example.com' })).status).toBe(422);
    const reserved = await api('POST', '/api/resources', { name: 'Mine', indicator: 'https://default.logto.app/api' });
    expect(reserved.status).toBe(400);
    expect(reserved.json.message).toContain('management API');
    expect((await api('POST', '/api/resources', { name: 'Mine', indicator: `${sesame.config.endpoint}/api` })).status).toBe(400);
    expect((await api('POST', '/api/resources', { name: 'Bad', indicator: 'not a uri' })).status).toBe(400);

    const read = await api('POST', `/api/resources/${id}/scopes`, { name: 'read:books', description: 'Read books' });
    expect(read.status).toBe(201);
    expect(read.json).toMatchObject({ name: 'read:books', description: 'Read books', resourceId: id });
    expect((await api('POST', `/api/resources/${id}/scopes`, { name: 'read:books' })).status).toBe(422);
    expect((await api('POST', `/api/resources/${id}/scopes`, { name: 'openid' })).status).toBe(400);
    const write = await api('POST', `/api/resources/${id}/scopes`, { name: 'write:books' });
    const scopes = await api('GET', `/api/resources/${id}/scopes?page_size=1`);
    expect(scopes.json.map((scope: { name: string }) => scope.name)).toEqual(['read:books']);
    expect(scopes.headers.get('total-number')).toBe('2');
    const renamed = await api('PATCH', `/api/resources/${id}/scopes/${write.json.id}`, { name: 'edit:books', description: null });
    expect(renamed.json).toMatchObject({ name: 'edit:books', description: null });
    expect((await api('PATCH', `/api/resources/${id}/scopes/${write.json.id}`, { name: 'read:books' })).status).toBe(422);

    const listed = await api('GET', '/api/resources?includeScopes=true');
    expect(listed.headers.get('total-number')).toBe('1');
    expect(listed.json[0].scopes.map((scope: { name: string }) => scope.name)).toEqual(['read:books', 'edit:books']);
    expect((await api('GET', '/api/resources')).json[0].scopes).toBeUndefined();

    // The scopes are what the token endpoint grants: an m2m app gets a token for the resource.
    const worker = await createApplication(sesame.db, { name: 'Worker', type: 'machine_to_machine' });
    const issued = await clientCredentials(worker, { resource: 'https://books.example.com', scope: 'read:books edit:books delete:books' });
    expect(issued.status).toBe(200);
    expect(issued.json).toMatchObject({ scope: 'read:books edit:books', expires_in: 600 });

    const patched = await api('PATCH', `/api/resources/${id}`, { name: 'Library', accessTokenTtl: 900 });
    expect(patched.json).toMatchObject({ name: 'Library', accessTokenTtl: 900, indicator: 'https://books.example.com' });
    expect((await api('PATCH', `/api/resources/${id}`, { accessTokenTtl: 10 })).status).toBe(400);
    expect((await api('PATCH', `/api/resources/${id}`, { indicator: 'https://x.example.com' })).status).toBe(400);

    expect((await api('DELETE', `/api/resources/${id}/scopes/${read.json.id}`)).status).toBe(204);
    expect((await api('DELETE', `/api/resources/${id}/scopes/${read.json.id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/resources/${id}`)).status).toBe(204);
    for (const path of [`/api/resources/${id}`, `/api/resources/${id}/scopes`]) expect((await api('GET', path)).status).toBe(404);
    expect((await api('PATCH', `/api/resources/${id}`, { name: 'x' })).status).toBe(404);
    expect((await api('DELETE', `/api/resources/${id}`)).status).toBe(404);
    expect((await clientCredentials(worker, { resource: 'https://books.example.com' })).json.error).toBe('invalid_target');
  });

  it('reads and changes the sign-in experience in Logto\'s shape', async () => {
    const before = await api('GET', '/api/sign-in-exp');
    expect(before.json).toMatchObject({
      signInMode: 'SignInAndRegister',
      signIn: { methods: [{ identifier: 'email', verificationCode: true, password: false }] },
      signUp: { identifiers: ['email'], password: false, verify: true },
      verificationCodePolicy: { expirationDuration: 600, maxRetryAttempts: 5 },
      passwordPolicy: { length: { min: 8 } },
    });
    const changed = await api('PATCH', '/api/sign-in-exp', {
      signIn: { methods: [{ identifier: 'email', verificationCode: true, password: true, isPasswordPrimary: false }] },
      passwordAtSignUp: 'optional',
      passwordPolicy: { length: { min: 12 }, rejects: { pwned: false } },
      verificationCodePolicy: { expirationDuration: 300, maxRetryAttempts: 3 },
    });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({
      signIn: { methods: [{ verificationCode: true, password: true }] },
      signUp: { password: true },
      passwordAtSignUp: 'optional',
      passwordPolicy: { length: { min: 12 }, rejects: { pwned: false, userInfo: true } },
      verificationCodePolicy: { expirationDuration: 300, maxRetryAttempts: 3 },
    });
    expect((await api('GET', '/api/sign-in-exp')).json).toEqual(changed.json);

    const tooLong = await api('PATCH', '/api/sign-in-exp', { verificationCodePolicy: { expirationDuration: 7200 } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.message).toContain('verificationCodePolicy.expirationDuration');
    const phone = await api('PATCH', '/api/sign-in-exp', { signIn: { methods: [{ identifier: 'phone', verificationCode: true, password: false, isPasswordPrimary: false }] } });
    expect(phone.status).toBe(400);
    const color = await api('PATCH', '/api/sign-in-exp', { color: { primaryColor: '#000' } });
    expect(color.status).toBe(400);
    expect(color.json.message).toContain('"color"');
    expect((await api('GET', '/api/sign-in-exp')).json).toEqual(changed.json);
  });

  it('stores, shows (password hidden), tests and removes the SMTP connector', async () => {
    expect((await api('GET', '/api/connectors')).json).toEqual([]);
    expect((await api('GET', '/api/connectors/smtp')).status).toBe(404);
    const config = { host: '127.0.0.1', port: sesame.smtp.port, auth: { user: 'mailer', pass: 's3cret-pass' }, fromEmail: 'Ops <ops@example.com>' };
    const created = await api('POST', '/api/connectors', { connectorId: 'simple-mail-transfer-protocol', config });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ id: 'smtp', type: 'Email', config: { host: '127.0.0.1', auth: { user: 'mailer', pass: '********' } } });
    expect(JSON.stringify((await api('GET', '/api/connectors')).json)).not.toContain('s3cret-pass');
    expect((await api('POST', '/api/connectors', { connectorId: 'simple-mail-transfer-protocol', config })).status).toBe(422);

    const bad = await api('PATCH', '/api/connectors/smtp', { config: { ...config, port: 'abc' } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('port');
    // The hidden password sent back keeps the stored one.
    const renamed = await api('PATCH', '/api/connectors/smtp', { config: { ...config, auth: { user: 'mailer', pass: '********' }, fromEmail: 'Ops 2 <ops@example.com>' } });
    expect(renamed.status).toBe(200);
    expect(renamed.json.config.fromEmail).toBe('Ops 2 <ops@example.com>');

    const before = sesame.smtp.countFor('ops-test@example.com');
    const tested = await api('POST', '/api/connectors/simple-mail-transfer-protocol/test', { email: 'ops-test@example.com' });
    expect(tested.status).toBe(204);
    expect((await sesame.smtp.waitForMail('ops-test@example.com', { after: before })).subject).toBe('Sesame test email');
    const unreachable = await api('POST', '/api/connectors/simple-mail-transfer-protocol/test', {
      email: 'ops-test@example.com',
      config: { host: '127.0.0.1', port: 9, fromEmail: 'x@example.com', connectionTimeout: 1000 },
    });
    expect(unreachable.status).toBe(502);
    expect(unreachable.json.message).toContain('sending failed');
    expect((await api('POST', '/api/connectors/twilio/test', { email: 'a@example.com' })).status).toBe(400);

    expect((await api('DELETE', '/api/connectors/smtp')).status).toBe(204);
    expect((await api('DELETE', '/api/connectors/smtp')).status).toBe(404);
  });

  it('lists and rotates signing and cookie keys without showing them', async () => {
    const signing = await api('GET', '/api/configs/oidc/private-keys');
    expect(signing.status).toBe(200);
    expect(signing.json.map((key: { signingKeyAlgorithm: string; status: string }) => [key.signingKeyAlgorithm, key.status]).sort()).toEqual([
      ['EC', 'Current'],
      ['RSA', 'Current'],
    ]);
    const jwks = (await (await fetch(`${sesame.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    for (const key of signing.json) expect(jwks.keys.map((k) => k.kid)).toContain(key.id);

    const rotated = await api('POST', '/api/configs/oidc/private-keys/rotate', {});
    expect(rotated.json.map((key: { status: string }) => key.status).sort()).toEqual(['Current', 'Current', 'Next', 'Next']);
    const next = rotated.json.find((key: { status: string }) => key.status === 'Next');
    expect(next.effectiveAt).toBe(next.createdAt + sesame.config.signingKeyGraceMs);

    const cookies = await api('POST', '/api/configs/oidc/cookie-keys/rotate');
    expect(cookies.json.map((key: { status: string }) => key.status)).toEqual(['Next', 'Current']);
    expect(JSON.stringify(cookies.json)).not.toMatch(/material|"k"/);
    expect((await api('GET', '/api/configs/oidc/code-keys')).status).toBe(400);
    // The token just used still works: rotation keeps old keys verifying.
    expect((await api('GET', '/api/sign-in-exp')).status).toBe(200);
  });

  it('records every management change in the audit log, with the app that made it, and serves it at /api/logs', async () => {
    const user = await api('POST', '/api/users', { primaryEmail: 'audited@example.com', password: 'another unusual passphrase' });
    await api('PATCH', `/api/users/${user.json.id}/is-suspended`, { isSuspended: true });
    const logs = await api('GET', `/api/logs?userId=${user.json.id}`);
    expect(logs.status).toBe(200);
    expect(logs.json.map((log: { key: string }) => log.key)).toEqual(['Management.User.Suspend', 'Management.User.Create']);
    expect(logs.json[0].payload).toMatchObject({ result: 'Success', actor: `app:${admin.id}`, userId: user.json.id, ip: expect.any(String) });
    expect(JSON.stringify(logs.json)).not.toContain('unusual passphrase');
    expect(logs.headers.get('total-number')).toBe('2');

    const management = await api('GET', '/api/logs?logKey=Management.*&page_size=1');
    expect(Number(management.headers.get('total-number'))).toBeGreaterThan(10);
    expect(management.json).toHaveLength(1);
    const one = await api('GET', `/api/logs/${logs.json[1].id}`);
    expect(one.json).toEqual(logs.json[1]);
    expect((await api('GET', '/api/logs/nothing-here')).status).toBe(404);

    const future = Date.now() + 60_000;
    expect((await api('GET', `/api/logs?userId=${user.json.id}&start_time=${future}`)).json).toEqual([]);
    const range = await api('GET', `/api/logs?userId=${user.json.id}&start_time=${logs.json[1].createdAt}&end_time=${logs.json[1].createdAt}`);
    expect(range.json.map((log: { id: string }) => log.id)).toContain(logs.json[1].id);
    expect((await api('GET', '/api/logs?start_time=2&end_time=1')).status).toBe(400);
  });
});
