import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import * as client from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { sesameCli } from '../helpers/cli.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres.ts';
import { freePort, startSesameWithMail, tempDir } from '../helpers/sesame.ts';
import type { Application } from '../../src/db/applications.ts';
import { main } from '../../src/cli.ts';
import { insertPasskey } from '../../src/db/passkeys.ts';
import { createSecondFactor } from '../../src/mfa/second-factor.ts';
import { Secret, TOTP } from 'otpauth';
import { insertAccountSession } from '../../src/db/account-sessions.ts';

/**
 * Moving up: a Sesame that ran on SQLite is copied with `sesame db copy --to postgres://...` (the
 * real command) into an empty PostgreSQL database, and Sesame started there at the same address
 * carries on: the same keys, the same apps and people, every refresh token and live session.
 */
const REDIRECT = 'http://127.0.0.1:9/callback';
const STACK = /\bat .+:\d+:\d+/;
/** The test server trusts every connection, so a password in the URL is accepted and ignored: it must never be printed. */
const PASSWORD = 'Pa55-never-printed';

interface Jwks {
  keys: (JsonWebKey & { kid: string; alg: string })[];
}

const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
};

async function jwksOf(issuer: string): Promise<Jwks> {
  return (await (await fetch(`${issuer}/jwks`)).json()) as Jwks;
}

/** The JWT's claims if its signature verifies against one of `jwks`'s keys (by kid), else undefined. */
function verifiedClaims(jwt: string, jwks: Jwks): Record<string, unknown> | undefined {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string; alg: string };
  const jwk = jwks.keys.find((key) => key.kid === kid && key.alg === alg);
  if (!jwk) return undefined;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${header}.${payload}`), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(signature, 'base64url'));
  return ok ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>) : undefined;
}

/** Rows per table of a SQLite file, read directly. */
function sqliteCounts(file: string, tables: string[]): Record<string, number> {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return Object.fromEntries(tables.map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

async function postgresCounts(database: TestDatabase, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = (await database.pool().query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0]!.n;
  return counts;
}

function expectOneLine(result: { stderr: string; stdout: string }, message: RegExp) {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(STACK);
  expect(result.stderr + result.stdout).not.toContain(PASSWORD);
}

describePostgres('sesame db copy: SQLite to PostgreSQL', () => {
  const dir = tempDir('sesame-db-copy-');
  const sqliteFile = join(dir.path, 'sesame.db');
  const sqliteUrl = `sqlite:${sqliteFile}`;
  const targets: TestDatabase[] = [];
  const newTarget = async () => {
    const target = await createTestDatabase();
    targets.push(target);
    return target;
  };
  const copy = (to: string, ...extra: string[]) => sesameCli(['db', 'copy', '--to', to, ...extra], { cwd: dir.path, database: sqliteUrl });

  let port: number;
  let app: Application;
  let before: Jwks;
  /** Two people signed in through the pages, with their tokens, and the browser of the first. */
  let people: { email: string; tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers }[];
  let browser: HttpBrowser;

  beforeAll(async () => {
    port = await freePort();
    const sesame = await startSesameWithMail({ dir: dir.path, engine: 'sqlite', env: { PORT: String(port), ENDPOINT: `http://127.0.0.1:${port}` } });
    try {
      app = await sesame.registerApp({ name: 'Bookstore', redirectUris: [REDIRECT] });
      const config = await discover(sesame.issuer, app);
      browser = new HttpBrowser();
      people = [];
      for (const [email, inBrowser] of [['first@example.com', browser], ['second@example.com', new HttpBrowser()]] as const) {
        const start = await startAuthorization(config, REDIRECT);
        const { callback } = await signInWithEmail(inBrowser, sesame.smtp, start, email, REDIRECT);
        people.push({ email, tokens: await exchange(config, callback, start) });
      }
      // A passkey and an account page session: rows that point at users (and are copied before them, by name).
      const firstId = people[0]!.tokens.claims()!.sub;
      const at = Date.now();
      await insertPasskey(sesame.db, {
        id: 'passkey-1', userId: firstId, credentialId: 'Y3JlZGVudGlhbA', publicKey: 'cHVibGljLWtleQ', counter: 3, transports: ['internal'],
        deviceType: 'multiDevice', backedUp: true, name: 'Laptop', createdAt: at, lastUsedAt: null,
      });
      await insertAccountSession(sesame.db, { id: 'account-session-1', userId: firstId, data: {}, createdAt: at, lastSeenAt: at, expiresAt: at + 60_000 });
      // A second factor: a confirmed authenticator and ten backup codes (mfa_* tables, migration 0014).
      const secondFactor = createSecondFactor({ db: sesame.db, now: Date.now, issuer: 'copy.test' });
      const enrolment = (await secondFactor.beginEnrolment(firstId, people[0]!.email))!;
      const code = TOTP.generate({ secret: Secret.fromBase32(enrolment.secret), algorithm: 'SHA1', digits: 6, period: 30 });
      expect((await secondFactor.confirmEnrolment(firstId, code)).status).toBe('ok');
      before = await jwksOf(sesame.issuer);
    } finally {
      await sesame.stop();
    }
    // Through the command, as an operator would: an API resource and a sign-in experience setting.
    expect((await sesameCli(['resource', 'create', '--indicator', 'https://api.example.com', '--name', 'API', '--scope', 'read'], { cwd: dir.path, database: sqliteUrl })).code).toBe(0);
    expect((await sesameCli(['experience', 'set', '--code-ttl-minutes', '7'], { cwd: dir.path, database: sqliteUrl })).code).toBe(0);
  });

  afterAll(async () => {
    for (const target of targets) await target.drop();
    dir.remove();
  });

  it('copies every table in one transaction, and Sesame on PostgreSQL keeps its keys, apps, people, refresh tokens and sessions', async () => {
    const target = await newTarget();
    const result = await copy(withPassword(target.url), '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    const report = JSON.parse(result.stdout) as { source: string; target: string; tables: Record<string, number>; skipped: string[]; migrations: string[] };
    expect(report.source).toBe(sqliteFile);
    expect(report.target).toContain(':***@');
    expect(report.skipped).toContain('schema_migrations');
    expect(report.skipped).toContain('health_check');
    const tables = Object.keys(report.tables);
    expect(tables).toEqual(expect.arrayContaining(['applications', 'users', 'server_keys', 'oidc_model_instances', 'api_resources', 'settings']));
    // The reported counts are the SQLite file's and the PostgreSQL database's.
    expect(report.tables).toEqual(sqliteCounts(sqliteFile, tables));
    expect(await postgresCounts(target, tables)).toEqual(report.tables);
    // Three apps: the Bookstore and Sesame's own two (the admin console, the account page), which every start registers.
    expect(report.tables).toMatchObject({ applications: 3, users: 2, api_resources: 1, passkeys: 1, account_sessions: 1, mfa_totp: 1, mfa_backup_codes: 10 });
    expect(report.tables.oidc_model_instances).toBeGreaterThan(0);

    // Sesame on PostgreSQL, at the same address (a switch of DATABASE_URL, nothing else).
    const sesame = await startSesameWithMail({ env: { DATABASE_URL: target.url, PORT: String(port), ENDPOINT: `http://127.0.0.1:${port}` } });
    try {
      expect(sesame.config.database.kind).toBe('postgres');
      const after = await jwksOf(sesame.issuer);
      expect(after.keys.map((key) => key.kid).sort()).toEqual(before.keys.map((key) => key.kid).sort());
      expect(after).toEqual(before);

      const config = await discover(sesame.issuer, app);
      for (const { email, tokens } of people) {
        // An ID token from before the switch verifies against the new JWKS.
        expect(verifiedClaims(tokens.id_token!, after)?.email).toBe(email);
        const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
        expect(refreshed.refresh_token).toBeTruthy();
        expect(verifiedClaims(refreshed.id_token!, after)).toMatchObject({ email, sub: tokens.claims()!.sub, aud: app.id });
        expect((await client.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub)).email).toBe(email);
      }

      // The first person's browser session lives on: a new sign-in goes straight back to the app.
      const start = await startAuthorization(config, REDIRECT);
      const done = await browser.follow(start.url, {}, REDIRECT);
      expect(done.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?code=/);
      expect((await exchange(config, done.location!, start)).claims()!.email).toBe('first@example.com');

      const apps = await sesameCli(['app', 'list', '--json'], { cwd: dir.path, database: target.url });
      expect(JSON.parse(apps.stdout)).toEqual([expect.objectContaining({ id: app.id, name: 'Bookstore' })]);
      const users = await sesameCli(['user', 'list', '--json'], { cwd: dir.path, database: target.url });
      expect((JSON.parse(users.stdout) as { email: string }[]).map((user) => user.email).sort()).toEqual(['first@example.com', 'second@example.com']);
      const resources = await sesameCli(['resource', 'list', '--json'], { cwd: dir.path, database: target.url });
      expect(JSON.parse(resources.stdout)).toEqual([expect.objectContaining({ indicator: 'https://api.example.com', scopes: ['read'] })]);
      const experience = await sesameCli(['experience', 'show'], { cwd: dir.path, database: target.url });
      expect(JSON.parse(experience.stdout)).toMatchObject({ verificationCode: { ttlMinutes: 7 } });
    } finally {
      await sesame.stop();
    }

    // That database now holds Sesame's data (and rows the new server wrote): a second copy is refused, nothing changed.
    const counts = await postgresCounts(target, tables);
    const again = await copy(withPassword(target.url));
    expect(again.code).toBe(1);
    expectOneLine(again, /^error: the PostgreSQL database is not empty: .*applications \(3 rows\).*server_keys \(\d+ rows\).*users \(2 rows\).*nothing was changed$/);
    expect(await postgresCounts(target, tables)).toEqual(counts);
  });

  it('prints the row count of every table', async () => {
    const target = await newTarget();
    const result = await copy(withPassword(target.url));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(PASSWORD);
    expect(result.stdout).toMatch(/^Copied .*sesame\.db into postgres:\/\/postgres:\*\*\*@.* in one transaction: \d+ rows in \d+ tables, row counts checked\./);
    expect(result.stdout).toMatch(/^ {2}applications +3$/m);
    expect(result.stdout).toMatch(/^ {2}users +2$/m);
    expect(result.stdout).toMatch(/^ {2}server_keys +\d+$/m);
  });

  it('rolls the whole copy back when one row cannot be copied', async () => {
    // A backup of the source with one row PostgreSQL refuses (text cannot hold a NUL character);
    // users is copied after applications, oidc_model_instances, server_keys, ...
    const broken = join(dir.path, 'broken.db');
    expect((await sesameCli(['db', 'backup', broken], { cwd: dir.path, database: sqliteUrl })).code).toBe(0);
    const db = new BetterSqlite3(broken);
    db.prepare('UPDATE users SET name = ? WHERE email = ?').run('bad\u0000name', 'second@example.com');
    db.close();
    const target = await newTarget();
    const result = await sesameCli(['db', 'copy', '--to', withPassword(target.url)], { cwd: dir.path, database: `sqlite:${broken}` });
    expect(result.code).toBe(1);
    expectOneLine(result, /^error: copying users failed after 0 rows, nothing was committed: /);
    const tables = ['api_resources', 'applications', 'oidc_model_instances', 'server_keys', 'settings', 'users'];
    expect(Object.values(await postgresCounts(target, tables))).toEqual(tables.map(() => 0));
    // Still empty, so the copy of a sound file goes through afterwards.
    expect((await copy(target.url)).code).toBe(0);
  });

  it('refuses a target whose migrations differ from the source', async () => {
    const target = await newTarget();
    expect((await sesameCli(['app', 'list'], { cwd: dir.path, database: target.url })).code).toBe(0); // migrates it
    await target.pool().query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, '9999_from_the_future.sql', 'x', 0)");
    const result = await copy(target.url);
    expect(result.code).toBe(1);
    expectOneLine(result, /^error: the PostgreSQL database has migrations the SQLite database lacks \(9999_from_the_future\.sql\)/);
  });

  it('refuses a --to that is not a PostgreSQL URL in one line (exit code 2)', async () => {
    // Nothing is opened for these: main() in-process, as test/integration/cli-bad-input.test.ts does.
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, { NODE_ENV: 'test', DATABASE_URL: sqliteUrl });
      return { code, stdout: out.join('\n'), stderr: err.join('\n') };
    };
    const cases: [string[], RegExp][] = [
      [['db', 'copy'], /^error: --to is required/],
      [['db', 'copy', '--to', ''], /^error: --to must be a PostgreSQL URL/],
      [['db', 'copy', '--to', `mysql://root:${PASSWORD}@127.0.0.1/sesame`], /^error: --to must be a PostgreSQL URL such as postgres:\/\/.*, got "mysql:\/\/root:\*\*\*@127\.0\.0\.1\/sesame"$/],
      [['db', 'copy', '--to', 'sqlite:./other.db'], /^error: --to must be a PostgreSQL URL/],
      [['db', 'copy', '--to', `postgres://postgres:${PASSWORD}@127.0.0.1:5432`], /^error: --to must end with the database's name after one \//],
      [['db', 'copy', '--to', `postgres://postgres:${PASSWORD}@127.0.0.1:5432/db?sslmode=prefer`], /^error: --to's sslmode=prefer is not supported/],
      [['db', 'copy', '--to', 'postgres://postgres@127.0.0.1:5432/db', '--into', 'x'], /^error: unknown option '--into'/],
    ];
    for (const [argv, message] of cases) {
      const result = await run(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expectOneLine(result, message);
    }
  });

  it('refuses an unreachable target and a PostgreSQL source in one line (exit code 1)', async () => {
    const closed = await freePort();
    const unreachable = await copy(`postgres://postgres:${PASSWORD}@127.0.0.1:${closed}/sesame`);
    expect(unreachable.code).toBe(1);
    expectOneLine(unreachable, new RegExp(`^error: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${closed}/sesame: connection refused; .* in --to$`));

    const target = await newTarget();
    const fromPostgres = await sesameCli(['db', 'copy', '--to', target.url], { cwd: dir.path, database: target.url });
    expect(fromPostgres.code).toBe(1);
    expectOneLine(fromPostgres, /^error: `sesame db copy` works on a SQLite database, and DATABASE_URL is PostgreSQL/);
  });
});
