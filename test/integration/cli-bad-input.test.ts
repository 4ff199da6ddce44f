import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.ts';
import { createApplication, InvalidInputError } from '../../src/management/applications.ts';
import { createResource } from '../../src/management/resources.ts';
import { validateCustomData } from '../../src/management/custom-data.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { insertUser } from '../../src/db/users.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nestedDeeperThan } from '../../src/lib/validation.ts';
import { ROOT, sesameCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/sesame.ts';

/**
 * Bad input to `sesame`: one line on stderr, exit code 2, nothing written. Most cases call main()
 * in-process (fast); the headline ones run bin/sesame.js as a user would, where a stray exception
 * shows as a stack trace.
 */
const dir = tempDir('sesame-cli-bad-');
const database = join(dir.path, 'sesame.db');
const env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${database}` };
const STACK = /\bat .+:\d+:\d+/;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
  return { code, out: out.join('\n'), err: err.join('\n'), errLines: err.flatMap((line) => line.split('\n')) };
}

/** Exit 2, exactly one stderr line matching `message`, no stack trace. */
async function expectRefused(argv: string[], message: RegExp) {
  const result = await run(...argv);
  const label = JSON.stringify(argv).slice(0, 200);
  expect(result.code, label).toBe(2);
  expect(result.errLines, label).toHaveLength(1);
  expect(result.err, label).toMatch(message);
  expect(result.err, label).not.toMatch(STACK);
  return result;
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

async function snapshot() {
  return {
    apps: (await run('app', 'list', '--json')).out,
    users: (await run('user', 'list', '--json')).out,
    resources: (await run('resource', 'list', '--json')).out,
    experience: (await run('experience', 'show')).out,
    connector: (await run('connector', 'show')).out,
  };
}

beforeAll(async () => {
  const db = openSqlite(database);
  await migrate(db, join(ROOT, 'migrations/sqlite'));
  await insertUser(db, {
    id: 'user1',
    email: 'reader@example.com',
    emailVerified: true,
    name: null,
    username: null,
    passwordHash: null,
    customData: { plan: 'free' },
    createdAt: 1,
    updatedAt: 1,
    lastSignInAt: null,
  });
  await db.destroy();
});
afterAll(() => dir.remove());

describe('sesame user set-custom-data with bad input', () => {
  it('refuses JSON nested 5000 deep with one line and exit 2 (was a RangeError stack, exit 1)', async () => {
    const before = await snapshot();
    const cli = await sesameCli(['user', 'set-custom-data', 'user1', '--json', nested(5000)], { cwd: dir.path, database });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toEqual(['error: --json: custom data must be nested at most 32 levels deep']);
    await expectRefused(['user', 'set-custom-data', 'user1', '--json', nested(33)], /nested at most 32 levels deep/);
    await expectRefused(['user', 'set-custom-data', 'user1', '--json', `{"a":${'['.repeat(60_000)}${']'.repeat(60_000)}}`], /32 levels/);
    await expectRefused(['user', 'set-custom-data', 'user1', '--json', JSON.stringify({ a: 'x'.repeat(17_000) })], /at most 16384 bytes/);
    expect(await snapshot()).toEqual(before);

    expect((await run('user', 'set-custom-data', 'user1', '--json', nested(32))).code).toBe(0);
  });

  it('treats an unknown user as a usage error: one line, exit 2 (was exit 1)', async () => {
    const cli = await sesameCli(['user', 'set-custom-data', 'nobody@example.com', '--json', '{}'], { cwd: dir.path, database });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toEqual(['error: no user with ID or email "nobody@example.com"']);
  });

  it('checks depth without recursion, for every caller', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestedDeeperThan(deep, 32)).toBe(true);
    expect(nestedDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestedDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(() => validateCustomData({ a: deep })).toThrow(InvalidInputError);
  });
});

describe('every "names nothing" case is a usage error (exit 2, one line)', () => {
  it('app delete, user delete, user set-custom-data and resource delete agree', async () => {
    await expectRefused(['app', 'delete', 'no-such-app'], /^error: no application with ID "no-such-app"$/);
    await expectRefused(['user', 'delete', 'nobody@example.com'], /^error: no user with ID or email "nobody@example.com"$/);
    await expectRefused(['user', 'set-custom-data', 'nobody', '--json', '{}'], /^error: no user with ID or email "nobody"$/);
    await expectRefused(['resource', 'delete', 'https://nothing.example'], /^error: no API resource with indicator "https:\/\/nothing.example"$/);
    // What was typed is quoted on one line, however it looks.
    await expectRefused(['user', 'delete', 'a\nb'], /^error: no user with ID or email "a\\nb"$/);
    const long = await expectRefused(['app', 'delete', 'x'.repeat(100_000)], /no application with ID "x+…"$/);
    expect(long.err.length).toBeLessThan(200);
  });
});

describe('sesame experience set with bad values', () => {
  it('--code-ttl-minutes -1 prints one line naming the option and range (was three lines)', async () => {
    const cli = await sesameCli(['experience', 'set', '--code-ttl-minutes', '-1'], { cwd: dir.path, database });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toEqual(['error: --code-ttl-minutes must be an integer between 1 and 60, got -1']);
  });

  it('gives exactly one line and exit 2 for every option and kind of bad value', async () => {
    const before = await snapshot();
    const cases: [string, string, RegExp][] = [];
    for (const [flag, range] of [
      ['--code-ttl-minutes', 'between 1 and 60'],
      ['--code-max-attempts', 'between 1 and 5'],
      ['--password-min-length', 'between 8 and 256'],
    ] as const) {
      for (const bad of ['-1', '0', '-0', '100000', '99999999999999999999', 'abc', '1.5', '1e3', '', ' 5', '0x10', '--']) {
        if (bad === '--') continue;
        cases.push([flag, bad, new RegExp(`^error: ${flag} must be an integer ${range}, got `)]);
      }
    }
    for (const bad of ['foo', '', '-x', 'signin']) {
      cases.push(['--sign-in-mode', bad, /^error: --sign-in-mode must be one of SignIn, Register, SignInAndRegister, got /]);
      cases.push(['--password-at-sign-up', bad, /^error: --password-at-sign-up must be one of off, optional, required, got /]);
    }
    cases.push(['--sign-in-methods', 'foo', /^error: --sign-in-methods must be one of verificationCode, password, got "foo"/]);
    cases.push(['--sign-in-methods', ',', /^error: --sign-in-methods needs at least one of verificationCode, password$/]);
    cases.push(['--sign-in-methods', '-1', /^error: --sign-in-methods must be one of/]);
    cases.push(['--sign-in-methods', 'password', /^error: --sign-in-methods \[password\] alone needs --password-at-sign-up "required"/]);
    for (const flag of ['--reject-common-passwords', '--reject-email-as-password']) {
      for (const bad of ['yes', '1', '-1', '']) cases.push([flag, bad, new RegExp(`^error: ${flag} must be true or false, got `)]);
    }
    for (const [flag, bad, message] of cases) {
      await expectRefused(['experience', 'set', flag, bad], message);
    }
    for (const flag of ['--code-ttl-minutes', '--sign-in-mode', '--reject-common-passwords']) {
      await expectRefused(['experience', 'set', flag], new RegExp(`^error: ${flag} needs a value$`));
    }
    await expectRefused(['experience', 'set', '--code-ttl-minutes', '5', '--bogus'], /^error: unknown option '--bogus'$/);
    expect(await snapshot()).toEqual(before);
    // Good values still work, the = form and a value that merely starts with a dash included.
    expect((await run('experience', 'set', '--code-ttl-minutes=15')).code).toBe(0);
  });
});

describe('sesame app create with whitespace in a URI', () => {
  it('refuses leading/trailing spaces, tabs, line breaks and control characters (were stored as typed)', async () => {
    const before = await snapshot();
    const cli = await sesameCli(['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', ' http://localhost:9/cb'], { cwd: dir.path, database });
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toEqual([
      'error: redirect URI must not contain spaces, tabs, line breaks or control characters, got " http://localhost:9/cb"',
    ]);
    for (const bad of [
      'http://localhost:9/cb ',
      'http://local\thost:9/cb',
      'http://localhost:9/c\nb',
      'http://localhost:9/cb\r\n',
      'http://localhost:9/c b',
      'http://localhost:9/cb\u0000',
      'http://localhost:9/cb\u00a0',
      'http://localhost:9/cb\u200b',
      'http://localhost:9/cb\u2028',
    ]) {
      await expectRefused(['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', bad], /^error: redirect URI must not contain spaces/);
      await expectRefused(
        ['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'http://localhost:9/cb', '--post-logout-redirect-uri', bad],
        /^error: post-logout redirect URI must not contain spaces/,
      );
    }
    await expectRefused(['app', 'create', '--name', 'X\nY', '--type', 'traditional', '--redirect-uri', 'http://localhost:9/cb'], /^error: name must not contain line breaks/);
    await expectRefused(['app', 'create', '--name', 'X', '--type', 'sp\na', '--redirect-uri', 'http://localhost:9/cb'], /^error: type must be one of: traditional, m2m, got "sp\\na"$/);
    await expectRefused(['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', '-x'], /^error: redirect URI must be an absolute http\(s\) URL/);
    await expectRefused(['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'not a url'], /^error: redirect URI must be an absolute http\(s\) URL/);
    expect(await snapshot()).toEqual(before);
  });

  it('is refused in the shared validation, so every caller gets it', async () => {
    const db = openSqlite(join(dir.path, 'shared.db'));
    await migrate(db, join(ROOT, 'migrations/sqlite'));
    try {
      await expect(
        createApplication(db, { name: 'Demo', type: 'traditional', redirectUris: ['http://localhost:9/cb\t'] }),
      ).rejects.toThrow(/must not contain spaces, tabs/);
      await expect(
        createResource(db, { indicator: 'https://api.example\t.com', name: 'API' }),
      ).rejects.toThrow(/indicator must not contain spaces, tabs/);
      expect(await db.selectFrom('applications').select('id').execute()).toEqual([]);
      expect(await db.selectFrom('api_resources').select('id').execute()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

describe('other commands with odd input', () => {
  it('resource create, connector set, user delete and keys rotate answer one line, exit 2, write nothing', async () => {
    const before = await snapshot();
    const files = join(dir.path, 'files');
    mkdirSync(files, { recursive: true });
    const deepConfig = join(files, 'deep.json');
    writeFileSync(deepConfig, `{"host":"smtp.example.com","port":25,"fromEmail":"a@b.example","tls":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`);
    const truncated = join(files, 'truncated.json');
    writeFileSync(truncated, '{"host":');

    const cases: [string[], RegExp][] = [
      [['resource', 'create', '--indicator', 'https://api.example\t.com', '--name', 'A'], /^error: indicator must not contain spaces/],
      [['resource', 'create', '--indicator', ' https://api.example.com', '--name', 'A'], /^error: indicator must not contain spaces/],
      [['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'A', '--access-token-ttl', '-1'], /^error: --access-token-ttl must be a whole number of seconds, at least 60 and at most 86400 \(one day\), got "-1"$/],
      [['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'A', '--access-token-ttl', '99999999999999999999'], /at least 60 and at most 86400/],
      [['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'A\nB'], /^error: name must not contain line breaks/],
      [['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'A', '--scope', 'a\nb'], /^error: scope "a\\nb" must be one word/],
      [['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'A', '--scope'], /^error: --scope needs a value$/],
      [['connector', 'set', 'smtp', '--file', deepConfig], /^error: invalid SMTP connector config: nested more than 32 levels deep$/],
      [['connector', 'set', 'smtp', '--file', truncated], /^error: cannot read ".*truncated.json" as JSON/],
      [['connector', 'set', 'smtp', '--file', files], /^error: cannot read .* as JSON: EISDIR/],
      [['connector', 'set', 'smtp', '--file', join(files, 'no\nsuch.json')], /^error: cannot read ".*no\\nsuch.json" as JSON/],
      [['connector', 'set', 'smtp'], /^error: --file is required$/],
      [['connector', 'set', 'imap', '--file', deepConfig], /^error: usage: sesame connector set smtp/],
      [['user', 'delete'], /^error: usage: sesame user delete/],
      [['user', 'delete', 'a', 'b'], /^error: usage: sesame user delete/],
      [['user', 'delete', '--x'], /^error: unknown option '--x'$/],
      [['user', 'list', '--limit', '-5'], /^error: --limit must be an integer between 1 and 10000$/],
      [['keys', 'rotate', '--purpose'], /^error: --purpose needs a value$/],
      [['keys', 'rotate', '--purpose', 'x\ny'], /^error: --purpose must be signing, cookie or code-hmac, got "x\\ny"$/],
      [['keys', 'rotate', '--purpose', '-1'], /^error: --purpose must be signing, cookie or code-hmac, got "-1"$/],
      [['keys', 'rotate', 'extra'], /^error: unexpected argument 'extra'$/],
      [['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'http://a/cb', '--token-endpoint-auth-method', 'none'], /^error: --token-endpoint-auth-method must be one of client_secret_basic, client_secret_post, got "none"$/],
    ];
    for (const [argv, message] of cases) await expectRefused(argv, message);
    expect(await snapshot()).toEqual(before);
  });

  it('a failure that is not a usage mistake is still one line, exit 1, no stack trace', async () => {
    const cli = await sesameCli(['app', 'list'], { cwd: dir.path, database: dir.path }); // a directory, not a file
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/^error: /);
    expect(cli.stderr).not.toMatch(STACK);
  });
});
