import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openSqlite } from '../../src/db/sqlite.ts';
import { DatabaseUnavailableError } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createApplication } from '../../src/management/applications.ts';
import { freePort, startTestSesame, tempDir } from '../helpers/sesame.ts';
import { ROOT, sesameCli } from '../helpers/cli.ts';
import { startSmtpCatcher } from '../helpers/smtp.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { discover, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';

// SQLite's own faults (a file that is not a database, a held lock, a read-only directory, ...): these
// suites run on SQLite whatever TEST_DATABASE_URL says; PostgreSQL's are in postgres-groundwork.test.ts.
const run = promisify(execFile);
const MIGRATIONS = join(ROOT, 'migrations/sqlite');
const REDIRECT = 'http://127.0.0.1:9/callback';
const STACK_FRAME = /\bat .+:\d+:\d+|^\s+at /m;
const dir = tempDir('sesame-faults-');
afterAll(() => dir.remove());

/** Lines a person reads on stderr (Node 20 makes oidc-provider print a runtime warning first). */
const stderrLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('oidc-provider WARNING'));

async function migratedDatabase(file: string) {
  const db = openSqlite(file);
  await migrate(db, MIGRATIONS);
  const app = await createApplication(db, { name: 'App', type: 'traditional', redirectUris: [REDIRECT] });
  await db.destroy(); // checkpoints the WAL into the file
  return app;
}

/** Starts `node src/main.ts` the way an operator does and waits for it to exit. */
async function startServer(databaseUrl: string, asUser?: number) {
  const command = asUser === undefined ? process.execPath : 'setpriv';
  const prefix = asUser === undefined ? [] : [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', process.execPath];
  return run(command, [...prefix, '--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    timeout: 25_000,
    env: { ...process.env, NODE_ENV: 'test', PORT: String(await freePort()), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

function expectOneClearLine(result: { code: number; stderr: string }, prefix: string, path: string, says: RegExp) {
  const lines = stderrLines(result.stderr);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${prefix}`));
  expect(lines[0]).toContain(path);
  expect(lines[0]).toMatch(says);
  expect(result.stderr).not.toMatch(STACK_FRAME);
  expect(result.code).toBe(1);
}

describe('SQLite: database problems at start: one clear line and exit code 1', () => {
  const real = join(dir.path, 'real.db');
  const cases: [string, () => string, RegExp][] = [
    ['DATABASE_URL names a directory', () => (mkdirSync(join(dir.path, 'a-directory'), { recursive: true }), join(dir.path, 'a-directory')), /is a directory/],
    [
      'a file full of garbage',
      () => (writeFileSync(join(dir.path, 'garbage.db'), Buffer.alloc(20_000, 'not sqlite ')), join(dir.path, 'garbage.db')),
      /not a SQLite database/,
    ],
    [
      'a truncated copy of a real database',
      () => {
        const cut = join(dir.path, 'truncated.db');
        writeFileSync(cut, readFileSync(real).subarray(0, Math.floor(statSync(real).size / 5)));
        return cut;
      },
      /is damaged|not a SQLite database/,
    ],
    [
      'a parent path that is a file',
      () => (writeFileSync(join(dir.path, 'plain-file'), 'x'), join(dir.path, 'plain-file', 'sesame.db')),
      /plain-file is a file, not a directory/,
    ],
    ['a path where nothing can be created', () => '/proc/sesame-test/sesame.db', /cannot create the directory \/proc\/sesame-test/],
    ['a file on a pseudo file system', () => '/proc/version', /cannot open the database \/proc\/version/],
  ];

  it.each(cases)('%s', async (_name, prepare, says) => {
    if (!statSync(real, { throwIfNoEntry: false })) await migratedDatabase(real);
    const path = prepare();
    expectOneClearLine(await startServer(`sqlite:${path}`), 'startup error: ', path, says);
  });

  // Root writes anywhere, so the unwritable cases run the server as `nobody`.
  const canDropRoot = (() => {
    if (process.getuid?.() !== 0) return false;
    try {
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(join(ROOT, 'src/main.ts'))})`], {
        stdio: 'ignore',
      });
      return true;
    } catch {
      return false;
    }
  })();
  const unwritable: [string, () => string, RegExp][] = [
    [
      'a directory the server may not write',
      () => {
        mkdirSync(join(dir.path, 'closed'), { recursive: true, mode: 0o755 });
        return join(dir.path, 'closed', 'new.db');
      },
      /directory .*closed is not writable/,
    ],
    [
      'a read-only database file',
      () => {
        const open = join(dir.path, 'open');
        mkdirSync(open, { recursive: true });
        chmodSync(open, 0o777);
        copyFileSync(real, join(open, 'ro.db'));
        chmodSync(join(open, 'ro.db'), 0o444);
        return join(open, 'ro.db');
      },
      /is read-only/,
    ],
    [
      'a database in a read-only directory',
      () => {
        const locked = join(dir.path, 'ro-dir');
        mkdirSync(locked, { recursive: true, mode: 0o755 });
        copyFileSync(real, join(locked, 'in.db'));
        chmodSync(join(locked, 'in.db'), 0o666);
        return join(locked, 'in.db');
      },
      /directory .*ro-dir is read-only/,
    ],
  ];
  it.skipIf(!canDropRoot).each(unwritable)('%s (as an unprivileged user)', async (_name, prepare, says) => {
    if (!statSync(real, { throwIfNoEntry: false })) await migratedDatabase(real);
    chmodSync(dir.path, 0o755);
    const path = prepare();
    expectOneClearLine(await startServer(`sqlite:${path}`, 65534), 'startup error: ', path, says);
  });

  it('the sesame command says the same in one line', async () => {
    const cwd = tempDir('sesame-faults-cli-');
    try {
      mkdirSync(join(cwd.path, 'dir.db'));
      writeFileSync(join(cwd.path, 'garbage.db'), Buffer.alloc(8192, 'garbage '));
      writeFileSync(join(cwd.path, 'file'), 'x');
      for (const [database, says] of [
        [join(cwd.path, 'dir.db'), /is a directory/],
        [join(cwd.path, 'garbage.db'), /not a SQLite database/],
        [join(cwd.path, 'file', 'sesame.db'), /is a file, not a directory/],
      ] as const) {
        expectOneClearLine(await sesameCli(['app', 'list'], { cwd: cwd.path, database }), 'error: ', database, says);
      }
    } finally {
      cwd.remove();
    }
  });
});

/** A pino destination that keeps every line. */
function logCapture() {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    errors: () => lines.filter((line) => (line.level as number) >= 50).map((line) => JSON.stringify(line)),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Another program (an sqlite3 shell, a backup) holding the write lock for `ms`. */
async function holdLock(file: string, ms: number): Promise<{ released: Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(join(ROOT, 'node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)});
    db.exec('BEGIN EXCLUSIVE');
    console.log('locked');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return { released: new Promise((resolve) => child.on('exit', () => resolve())) };
}

describe('SQLite: database faults while running', () => {
  it('keeps serving while another program holds the lock, and /health says 503 within its own timeout', async () => {
    const log = logCapture();
    const sesame = await startTestSesame({ engine: 'sqlite', sesame: { logger: { level: 'info', stream: log.stream } } });
    try {
      const app = await sesame.registerApp({ redirectUris: [REDIRECT] });
      const config = await discover(sesame.issuer, app);
      const base = sesame.url;
      expect((await fetch(`${base}/health`)).status).toBe(200);

      // The server runs in this process: a frozen event loop shows as a long gap between ticks.
      let lastTick = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        longestGap = Math.max(longestGap, performance.now() - lastTick);
        lastTick = performance.now();
      }, 20);
      const lock = await holdLock(sesame.config.databaseFile, 3000);
      // A request that has to write (oidc-provider stores the interaction) waits for the lock...
      const start = await startAuthorization(config, REDIRECT);
      const writing = timed(() => fetch(start.url, { redirect: 'manual', headers: { accept: 'text/html' } }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // ...while everything else goes on.
      const health = await timed(() => fetch(`${base}/health`));
      expect(health.value.status).toBe(503);
      expect(await health.value.json()).toEqual({ status: 'unavailable', database: 'timeout' });
      expect(health.ms).toBeLessThan(1500);
      const css = await timed(() => fetch(`${base}/assets/sesame.css`));
      expect(css.value.status).toBe(200);
      expect(css.ms).toBeLessThan(500);
      const discovery = await timed(() => fetch(`${sesame.issuer}/.well-known/openid-configuration`));
      expect(discovery.value.status).toBe(200);
      expect(discovery.ms).toBeLessThan(500);

      await lock.released;
      // Once the lock is gone the waiting request completes, and health recovers.
      const written = await writing;
      clearInterval(ticker);
      expect(longestGap).toBeLessThan(500);
      expect(written.value.status).toBe(303);
      expect(written.value.headers.get('location')).toMatch(/\/interaction\//);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect(log.errors().some((line) => line.includes('health: the database is unavailable (timeout'))).toBe(true);
    } finally {
      await sesame.stop();
    }
  });

  it('gives up on a lock held too long with a DatabaseUnavailableError, without blocking the event loop', async () => {
    const file = join(dir.path, 'busy.db');
    const db = openSqlite(file, { maxBusyWaitMs: 400 });
    await sql`CREATE TABLE t (v INTEGER)`.execute(db);
    const other = new BetterSqlite3(file);
    other.exec('BEGIN EXCLUSIVE');
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 10);
    try {
      const started = Date.now();
      const failed = await sql`INSERT INTO t (v) VALUES (1)`.execute(db).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(DatabaseUnavailableError);
      expect(failed).toMatchObject({ reason: 'locked' });
      expect((failed as Error).message).toContain(`the database ${file} is locked by another program`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(ticks).toBeGreaterThan(10);
      // Reads are not held up by another program's write lock (WAL).
      expect((await sql`SELECT count(*) AS n FROM t`.execute(db)).rows).toEqual([{ n: 0 }]);
      other.exec('COMMIT');
      await db.transaction().execute(async (tx) => sql`INSERT INTO t (v) VALUES (2)`.execute(tx));
      expect((await sql`SELECT count(*) AS n FROM t`.execute(db)).rows).toEqual([{ n: 1 }]);
    } finally {
      clearInterval(ticker);
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await db.destroy();
    }
  });

  const hasPrlimit = (() => {
    try {
      execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
      return process.platform === 'linux';
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasPrlimit)(
    'answers 503 with a readable page or JSON, and logs the cause, when the disk refuses writes',
    async () => {
      const databaseFile = join(dir.path, 'running.db');
      const app = await migratedDatabase(databaseFile);
      const smtp = await startSmtpCatcher();
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'test',
          PORT: String(port),
          ENDPOINT: base,
          DATABASE_URL: `sqlite:${databaseFile}`,
          LOG_LEVEL: 'info',
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(smtp.port),
          SMTP_SECURE: 'false',
          SMTP_FROM: 'no-reply@sesame.test',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      // File size limit 1 byte for the server process: every write to the database or its WAL fails
      // as on a full disk or an exhausted quota (stdout is a pipe, so logging still works).
      const limitWrites = (limit: string) => execFileSync('prlimit', ['--pid', String(child.pid), `--fsize=${limit}`]);
      try {
        for (let i = 0; i < 150; i += 1) {
          if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const config = await discover(`${base}/oidc`, app);
        const signedIn = await startAuthorization(config, REDIRECT);
        const { callback } = await signInWithEmail(new HttpBrowser(), smtp, signedIn, 'writer@example.com', REDIRECT);
        const code = new URL(callback).searchParams.get('code')!;
        const browser = new HttpBrowser();
        const emailPage = await browser.follow((await startAuthorization(config, REDIRECT)).url);
        expect(emailPage.status).toBe(200);

        limitWrites('1:unlimited');

        const health = await timed(() => fetch(`${base}/health`));
        expect(health.value.status).toBe(503);
        expect(await health.value.json()).toEqual({ status: 'unavailable', database: 'I/O error' });
        expect(health.ms).toBeLessThan(1500);

        // The token endpoint (a program): JSON, 503, Retry-After.
        const token = await fetch(config.serverMetadata().token_endpoint!, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: signedIn.verifier }),
        });
        expect(token.status).toBe(503);
        expect(token.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable' });

        // oidc-provider's authorization endpoint (a person): the readable page.
        const auth = await new HttpBrowser().request((await startAuthorization(config, REDIRECT)).url);
        expect(auth.status).toBe(503);
        // Its interaction could not be stored: no redirect to it may go out.
        expect(auth.headers.get('location')).toBeNull();
        expect(auth.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(auth.headers.get('content-type')).toMatch(/text\/html/);
        expect(auth.body).toContain('Temporarily unavailable');
        expect(auth.body).not.toMatch(STACK_FRAME);

        // Our own sign-in page (a person): the same page.
        const sent = await browser.submit(emailPage, '/email', { email: 'someone@example.com' });
        expect(sent.status).toBe(503);
        expect(sent.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(sent.body).toContain('Temporarily unavailable');

        // Each refused request left a log line with its cause (the child's stdout may lag a little).
        const databaseErrors = () => stdout.split('\n').filter((line) => line.includes('"level":50') && line.includes('database unavailable (I/O error)'));
        for (let i = 0; i < 40 && databaseErrors().length < 3; i += 1) await new Promise((r) => setTimeout(r, 50));
        const errors = stdout.split('\n').filter((line) => line.includes('"level":50'));
        const withCause = (path: string) => errors.filter((line) => line.includes(path) || line.includes(`"url":"${path}`));
        expect(errors.some((line) => line.includes('health: the database is unavailable (I/O error)') && line.includes('SQLITE_IOERR'))).toBe(true);
        expect(errors.filter((line) => line.includes('database unavailable (I/O error)') && line.includes('disk I/O error')).length).toBeGreaterThanOrEqual(3);
        expect(withCause('/oidc/token').length + withCause('/oidc/auth').length).toBeGreaterThanOrEqual(2);
        expect(stderrLines(stderr).join('\n')).not.toMatch(STACK_FRAME);

        // The disk takes writes again: so does Sesame.
        limitWrites('unlimited:unlimited');
        expect((await fetch(`${base}/health`)).status).toBe(200);
      } finally {
        child.kill('SIGKILL');
        await smtp.close();
      }
    },
    60_000,
  );
});
