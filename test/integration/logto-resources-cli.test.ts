import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { main } from '../../src/cli.ts';
import { tempDir } from '../helpers/sesame.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { insertUser } from '../../src/db/users.ts';

/** `sesame resource ...` and `sesame user set-custom-data` against a real SQLite file. */
describe('sesame resource and user set-custom-data', () => {
  const dir = tempDir();
  const env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${join(dir.path, 'sesame.db')}` };

  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    expect((await run('resource', 'list')).code).toBe(0); // creates and migrates the database
    const db = openSqlite(join(dir.path, 'sesame.db'));
    await insertUser(db, {
      id: 'user1',
      email: 'reader@example.com',
      emailVerified: true,
      name: null,
      username: null,
      passwordHash: null,
      customData: {},
      createdAt: 1,
      updatedAt: 1,
      lastSignInAt: null,
    });
    await db.destroy();
  });
  afterAll(() => dir.remove());

  it('creates, lists and deletes API resources', async () => {
    const created = await run('resource', 'create', '--indicator', 'https://api.example.com', '--name', 'Example API', '--scope', 'read:books', '--scope', 'write:books', '--access-token-ttl', '600', '--json');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.out)).toMatchObject({ indicator: 'https://api.example.com', name: 'Example API', scopes: ['read:books', 'write:books'], accessTokenTtl: 600 });

    const plain = await run('resource', 'create', '--indicator', 'https://other.example.com', '--name', 'Other');
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('https://other.example.com');

    const listed = await run('resource', 'list', '--json');
    expect(JSON.parse(listed.out).map((resource: { indicator: string; accessTokenTtl: number }) => [resource.indicator, resource.accessTokenTtl])).toEqual([
      ['https://api.example.com', 600],
      ['https://other.example.com', 3600],
    ]);

    expect((await run('resource', 'delete', 'https://other.example.com')).code).toBe(0);
    const missing = await run('resource', 'delete', 'https://other.example.com');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no API resource');
    expect(JSON.parse((await run('resource', 'list', '--json')).out)).toHaveLength(1);
  });

  it.each([
    [['--name', 'No indicator'], /--indicator is required/],
    [['--indicator', 'https://x.example.com'], /--name is required/],
    [['--indicator', 'not a uri', '--name', 'X'], /absolute URI/],
    [['--indicator', 'https://x.example.com#frag', '--name', 'X'], /fragment/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--scope', 'openid'], /reserved/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--scope', 'two words'], /one word/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--scope', 'a', '--scope', 'a'], /only once/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--access-token-ttl', '10'], /at least 60/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--access-token-ttl', 'soon'], /whole number/],
    [['--indicator', 'https://api.example.com', '--name', 'Again'], /already exists/],
    [['--indicator', 'https://x.example.com', '--name', 'X', '--bogus'], /unknown option/],
  ])('refuses resource create %j with exit 2 and writes nothing', async (args, message) => {
    const before = (await run('resource', 'list', '--json')).out;
    const result = await run('resource', 'create', ...args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.err.split('\n')).toHaveLength(1);
    expect((await run('resource', 'list', '--json')).out).toBe(before);
  });

  it('sets custom data by ID or email and refuses anything but a JSON object', async () => {
    expect((await run('user', 'set-custom-data', 'user1', '--json', '{"plan":"pro"}')).code).toBe(0);
    expect((await run('user', 'set-custom-data', 'Reader@Example.com', '--json', '{"plan":"team","seats":3}')).code).toBe(0);
    const users = JSON.parse((await run('user', 'list', '--json')).out) as { id: string; customData: unknown }[];
    expect(users.find((user) => user.id === 'user1')?.customData).toEqual({ plan: 'team', seats: 3 });

    for (const bad of ['[1,2]', '"text"', 'null', '{oops']) {
      const result = await run('user', 'set-custom-data', 'user1', '--json', bad);
      expect(result.code, bad).toBe(2);
      expect(result.err).toMatch(/JSON/);
    }
    expect((await run('user', 'set-custom-data', 'user1')).code).toBe(2);
    const unknown = await run('user', 'set-custom-data', 'nobody@example.com', '--json', '{}');
    expect(unknown.code).toBe(2);
    const after = JSON.parse((await run('user', 'list', '--json')).out) as { id: string; customData: unknown }[];
    expect(after.find((user) => user.id === 'user1')?.customData).toEqual({ plan: 'team', seats: 3 });
  });
});
