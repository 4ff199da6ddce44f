import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { main } from '../../src/cli.ts';
import { startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { createUser } from '../../src/management/users.ts';
import { findUserByEmail, findUserById } from '../../src/db/users.ts';
import { listAuditLogs } from '../../src/audit/log.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';

/** The admin role: `sesame admin add|remove|list`, PATCH /api/users/{id}/is-admin, and the first-start hint. */
describe('administrators', () => {
  let sesame: TestSesame;
  let token: string;
  let m2mId: string;

  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: sesame.databaseUrl, ENDPOINT: sesame.config.endpoint });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${sesame.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    sesame = await startTestSesame();
    const app = await createApplication(sesame.db, { name: 'CI', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, app.id, true, CLI);
    m2mId = app.id;
    const response = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: app.id, client_secret: app.secret, resource: `${sesame.config.endpoint}/api`, scope: 'all' }),
    });
    token = ((await response.json()) as { access_token: string }).access_token;
  });
  afterAll(() => sesame?.stop());

  it('sesame admin add creates the account when nobody has it, list shows it, remove takes the role back', async () => {
    expect(await run('admin', 'list')).toMatchObject({ code: 0, out: 'No administrators yet: `sesame admin add EMAIL` makes one.' });
    const added = await run('admin', 'add', 'First@Example.COM');
    expect(added.code).toBe(0);
    expect(added.out).toContain('is now an administrator (a new account');
    expect(added.out).toContain(`${sesame.config.endpoint}/console`);
    const user = (await findUserByEmail(sesame.db, 'first@example.com'))!;
    expect(user).toMatchObject({ isAdmin: true, emailVerified: true });

    expect((await run('admin', 'add', 'first@example.com')).out).toContain('is already an administrator');
    const listed = await run('admin', 'list', '--json');
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ id: user.id, email: 'first@example.com', isSuspended: false })]);
    expect((await run('admin', 'list')).out).toContain(`${user.id}  first@example.com`);

    const removed = await run('admin', 'remove', user.id);
    expect(removed.code).toBe(0);
    expect(removed.out).toContain('no longer an administrator');
    expect(removed.out).toContain('There is no administrator left');
    expect((await findUserById(sesame.db, user.id))!.isAdmin).toBe(false);
    const { rows } = await listAuditLogs(sesame.db, { userId: user.id, type: 'Management.User.*', page: 1, pageSize: 10 });
    expect(rows.map((row) => [row.type, row.actor])).toEqual([
      ['Management.User.RevokeAdmin', 'cli'],
      ['Management.User.GrantAdmin', 'cli'],
      ['Management.User.Create', 'cli'],
    ]);
  });

  it('refuses, with one line and exit code 2, what names nobody or is no address', async () => {
    for (const argv of [['admin', 'add', 'not-an-address'], ['admin', 'add', 'bad@'], ['admin', 'remove', 'nobody@example.com'], ['admin', 'add'], ['admin', 'add', 'a@example.com', 'b@example.com']]) {
      const result = await run(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err.split('\n'), argv.join(' ')).toHaveLength(1);
      expect(result.err).toMatch(/^error: /);
    }
    expect(await findUserByEmail(sesame.db, 'bad@')).toBeUndefined();
  });

  it('PATCH /api/users/{userId}/is-admin grants and takes back the role, recorded with the app that did it', async () => {
    const user = await createUser(sesame.db, { primaryEmail: 'api-admin@example.com' }, { passwords: createPasswordHasher() }, CLI);
    const granted = await api('PATCH', `/users/${user.id}/is-admin`, { isAdmin: true });
    expect(granted.status).toBe(200);
    expect(await granted.json()).toMatchObject({ id: user.id, isAdmin: true });
    expect(await (await api('GET', `/users/${user.id}`)).json()).toMatchObject({ isAdmin: true });
    expect(await (await api('PATCH', `/users/${user.id}/is-admin`, { isAdmin: false })).json()).toMatchObject({ isAdmin: false });
    const { rows } = await listAuditLogs(sesame.db, { userId: user.id, type: 'Management.User.*', page: 1, pageSize: 10 });
    expect(rows.map((row) => [row.type, row.actor])).toEqual([
      ['Management.User.RevokeAdmin', `app:${m2mId}`],
      ['Management.User.GrantAdmin', `app:${m2mId}`],
      ['Management.User.Create', 'cli'],
    ]);

    const bad = await api('PATCH', `/users/${user.id}/is-admin`, { isAdmin: 'yes' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'guard.invalid_input', data: { field: 'body.isAdmin' } });
    expect((await api('PATCH', '/users/nobody/is-admin', { isAdmin: true })).status).toBe(404);
    expect((await fetch(`${sesame.url}/api/users/${user.id}/is-admin`, { method: 'PATCH', body: '{}' })).status).toBe(401);
  });

  it('keeps the console\'s own app out of every list and every management operation', async () => {
    const list = (await (await api('GET', '/applications?page_size=100')).json()) as { id: string }[];
    expect(list.map((app) => app.id)).toEqual([m2mId]);
    for (const [method, path, body] of [
      ['GET', '/applications/sesame-console'],
      ['PATCH', '/applications/sesame-console', { name: 'Mine now' }],
      ['POST', '/applications/sesame-console/secret'],
      ['DELETE', '/applications/sesame-console'],
    ] as const) {
      expect((await api(method, path, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await run('app', 'delete', 'sesame-console')).code).toBe(2);
    expect((await run('app', 'list', '--json')).out).not.toContain('sesame-console');
  });

  it('documents the new routes in the OpenAPI document, and validates the activity period', async () => {
    const doc = (await (await fetch(`${sesame.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.paths['/api/users/{userId}/is-admin']?.patch?.operationId).toBe('UpdateUserIsAdmin');
    expect(doc.paths['/api/dashboard/activity']?.get?.operationId).toBe('GetActivity');
    const week = await api('GET', '/dashboard/activity?period=7d');
    expect(week.status).toBe(400);
    expect(((await week.json()) as { message: string }).message).toContain('period must be 24h or 30d');
    const day = (await (await api('GET', '/dashboard/activity')).json()) as { buckets: unknown[]; bucketMs: number };
    expect(day.buckets).toHaveLength(24);
    expect(day.bucketMs).toBe(3_600_000);
  });
});

describe('the first-start hint', () => {
  it('tells the operator how to make the first administrator, until there is one', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const start = () => startTestSesame({ dir: dir.path, sesame: { logger: { level: 'info', stream } } });
    const hint = () => lines.filter((line) => line.includes('no administrator yet')).length;
    let sesame = await start();
    try {
      expect(hint()).toBe(1);
      expect(lines.find((line) => line.includes('no administrator yet'))).toContain('sesame admin add you@example.com');
      const user = await createUser(sesame.db, { primaryEmail: 'boss@example.com' }, { passwords: createPasswordHasher() }, CLI);
      await sesame.db.updateTable('users').set({ is_admin: 1 }).where('id', '=', user.id).execute();
      await sesame.stop();
      sesame = await start();
      expect(hint()).toBe(1); // not again
    } finally {
      await sesame.stop();
      dir.remove();
    }
  });
});
