import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { main } from '../../src/cli.ts';
import { tempDir } from '../helpers/sesame.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { findApplication } from '../../src/db/applications.ts';
import { findUserById, insertUser } from '../../src/db/users.ts';
import { listAuditLogs } from '../../src/audit/log.ts';

/** The management commands of `sesame`: the same operations as the API, recorded as made by `cli`. */
describe('sesame app and user management commands', () => {
  const dir = tempDir();
  const file = join(dir.path, 'sesame.db');
  const env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${file}` };

  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  async function withDb<T>(work: (db: ReturnType<typeof openSqlite>) => Promise<T>): Promise<T> {
    const db = openSqlite(file);
    try {
      return await work(db);
    } finally {
      await db.destroy();
    }
  }

  beforeAll(async () => {
    expect((await run('app', 'list')).code).toBe(0);
    await withDb((db) =>
      insertUser(db, { id: 'u1', email: 'reader@example.com', emailVerified: true, name: null, username: null, passwordHash: null, customData: {}, createdAt: 1, updatedAt: 1, lastSignInAt: null }),
    );
  });
  afterAll(() => dir.remove());

  it('creates an m2m app, grants and revokes the management API, rotates its secret', async () => {
    const created = await run('app', 'create', '--name', 'CI', '--type', 'm2m', '--json');
    expect(created.code, created.err).toBe(0);
    const app = JSON.parse(created.out);
    expect(app).toMatchObject({ type: 'machine_to_machine', redirectUris: [], tokenEndpointAuthMethod: 'client_secret_post' });

    expect((await run('app', 'grant-management', app.id)).code).toBe(0);
    expect((await withDb((db) => findApplication(db, app.id)))?.managementAccess).toBe(true);
    expect((await run('app', 'revoke-management', app.id)).code).toBe(0);
    expect((await withDb((db) => findApplication(db, app.id)))?.managementAccess).toBe(false);

    const rotated = await run('app', 'rotate-secret', app.id, '--json');
    expect(rotated.code).toBe(0);
    const secret = JSON.parse(rotated.out).secret;
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(secret).not.toBe(app.secret);
    expect((await withDb((db) => findApplication(db, app.id)))?.secret).toBe(secret);

    const withUris = await run('app', 'create', '--name', 'X', '--type', 'm2m', '--redirect-uri', 'https://x.example.com/cb');
    expect(withUris.code).toBe(2);
    expect(withUris.err).toContain('takes no redirect');
    const web = JSON.parse((await run('app', 'create', '--name', 'Web', '--type', 'traditional', '--redirect-uri', 'https://w.example.com/cb', '--json')).out);
    const refused = await run('app', 'grant-management', web.id);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('only machine-to-machine apps');
    const unknown = await run('app', 'grant-management', 'nope');
    expect(unknown).toMatchObject({ code: 2, err: 'error: no application with ID "nope"' });
  });

  it('suspends, restores and signs out a user', async () => {
    expect((await run('user', 'suspend', 'reader@example.com')).code).toBe(0);
    expect((await withDb((db) => findUserById(db, 'u1')))?.isSuspended).toBe(true);
    expect((await run('user', 'list')).out).toContain('(suspended)');
    expect((await run('user', 'unsuspend', 'u1')).code).toBe(0);
    expect((await withDb((db) => findUserById(db, 'u1')))?.isSuspended).toBe(false);
    expect((await run('user', 'sign-out', 'u1')).out).toContain('Signed reader@example.com out everywhere');
    expect((await run('user', 'suspend', 'nobody@example.com'))).toMatchObject({ code: 2 });
    expect((await run('user', 'list', '--search', 'READER', '--json')).out).toContain('reader@example.com');
    expect(JSON.parse((await run('user', 'list', '--search', 'nobody', '--json')).out)).toEqual([]);
  });

  it('records each change as made by cli', async () => {
    const { rows } = await withDb((db) => listAuditLogs(db, { type: 'Management.*', page: 1, pageSize: 100 }));
    const types = rows.map((row) => row.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'Management.Application.Create',
        'Management.Application.GrantManagement',
        'Management.Application.RevokeManagement',
        'Management.Application.RotateSecret',
        'Management.User.Suspend',
        'Management.User.Unsuspend',
        'Management.User.RevokeSessions',
      ]),
    );
    expect(new Set(rows.map((row) => row.actor))).toEqual(new Set(['cli']));
    // The refused commands wrote nothing.
    expect(types.filter((type) => type === 'Management.Application.Create')).toHaveLength(2);
  });
});
