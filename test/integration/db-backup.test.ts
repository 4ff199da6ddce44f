import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, sesameCli } from '../helpers/cli.ts';
import { createTestDatabase, describePostgres } from '../helpers/postgres.ts';
import { startTestSesame, tempDir } from '../helpers/sesame.ts';
import { CONSOLE_CLIENT_ID } from '../../src/management/admins.ts';
import { ACCOUNT_CLIENT_ID } from '../../src/account/oidc.ts';

/** `sesame db backup FILE`: a consistent copy of the SQLite database, taken while Sesame runs. */
const STACK = /\bat .+:\d+:\d+/;
const MIGRATION_FILES = readdirSync(join(ROOT, 'migrations', 'sqlite')).filter((file) => file.endsWith('.sql'));

function expectOneLine(result: { stderr: string }, message: RegExp) {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(STACK);
}

describe('sesame db backup', () => {
  const dir = tempDir('sesame-db-backup-');
  afterAll(() => dir.remove());

  it('writes a consistent copy while Sesame runs and writes, and the copy opens with every row', async () => {
    const sesame = await startTestSesame({ dir: dir.path, engine: 'sqlite' });
    let written = 0;
    let writing = true;
    // Apps registered one after another through the running server's database, all through the backup.
    const writer = (async () => {
      while (writing) {
        await sesame.registerApp({ name: `App ${written}` });
        written++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      while (written < 20) await new Promise((resolve) => setTimeout(resolve, 10));
      const atStart = written;
      const file = join(dir.path, 'backup.db');
      const result = await sesameCli(['db', 'backup', file], { cwd: dir.path, database: sesame.databaseUrl });
      const atEnd = written;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe(`Wrote ${file} (${statSync(file).size} bytes): a consistent copy of ${join(dir.path, 'sesame.db')}.`);
      expect(atEnd).toBeGreaterThan(atStart); // the server kept writing while the command ran

      const backup = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
      try {
        expect(backup.pragma('integrity_check', { simple: true })).toBe('ok');
        // The admin console's own app (registered at start) is not one of the test's.
        const names = (backup.prepare('SELECT name FROM applications WHERE id NOT IN (?, ?) ORDER BY created_at, name').all(CONSOLE_CLIENT_ID, ACCOUNT_CLIENT_ID) as { name: string }[]).map(
          (row) => row.name,
        );
        expect(names.length).toBeGreaterThanOrEqual(atStart);
        expect(names.length).toBeLessThanOrEqual(atEnd + 1);
        // A snapshot: the apps it holds are the first N registered, with no gaps.
        expect(new Set(names)).toEqual(new Set(names.map((_, i) => `App ${i}`)));
        expect((backup.prepare('SELECT count(*) AS n FROM server_keys').get() as { n: number }).n).toBeGreaterThan(0);
        expect((backup.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(MIGRATION_FILES.length);
      } finally {
        backup.close();
      }
      // One self-contained file: nothing left beside it.
      expect(readdirSync(dir.path).filter((name) => name.startsWith('backup.db') || name.includes('.partial-'))).toEqual(['backup.db']);
      expect((await fetch(`${sesame.url}/health`)).status).toBe(200);

      // Sesame itself opens the backup: the command reads it as a database.
      const listed = await sesameCli(['app', 'list', '--json'], { cwd: dir.path, database: `sqlite:${file}` });
      expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(apps(file));
    } finally {
      writing = false;
      await writer;
      await sesame.stop();
    }
  });

  it('refuses an existing file unless --force, and never writes over the database itself', async () => {
    const database = `sqlite:${join(dir.path, 'sesame.db')}`;
    const file = join(dir.path, 'existing.db');
    writeFileSync(file, 'keep me');
    const refused = await sesameCli(['db', 'backup', file], { cwd: dir.path, database });
    expect(refused.code).toBe(1);
    expectOneLine(refused, new RegExp(`^error: ${file.replace(/[.]/g, '\\.')} already exists: choose another name, or add --force to replace it$`));
    expect(readFileSync(file, 'utf8')).toBe('keep me');

    const forced = await sesameCli(['db', 'backup', file, '--force'], { cwd: dir.path, database });
    expect(forced.code, forced.stderr).toBe(0);
    expect(apps(file)).toBeGreaterThan(0);

    for (const itself of ['sesame.db', 'sesame.db-wal']) {
      const result = await sesameCli(['db', 'backup', itself, '--force'], { cwd: dir.path, database });
      expect(result.code).toBe(1);
      expectOneLine(result, /is the database itself \(or its log\): write the backup to another file$/);
    }
    expect(apps(join(dir.path, 'sesame.db'))).toBeGreaterThan(0);

    const usage = await sesameCli(['db', 'backup'], { cwd: dir.path, database });
    expect(usage.code).toBe(2);
    expectOneLine(usage, /^error: usage: sesame db backup FILE \[--force\]$/);
    const noDirectory = await sesameCli(['db', 'backup', join(dir.path, 'missing', 'b.db')], { cwd: dir.path, database });
    expect(noDirectory.code).toBe(1);
    expectOneLine(noDirectory, /^error: the directory .*missing does not exist: create it first$/);
    const noDatabase = await sesameCli(['db', 'backup', join(dir.path, 'b.db')], { cwd: dir.path, database: `sqlite:${join(dir.path, 'nothing.db')}` });
    expect(noDatabase.code).toBe(1);
    expectOneLine(noDatabase, /^error: there is no SQLite database at .*nothing\.db/);
  });

  describePostgres('on PostgreSQL', () => {
    it('refuses, pointing to pg_dump', async () => {
      const database = await createTestDatabase();
      try {
        const result = await sesameCli(['db', 'backup', join(dir.path, 'pg.db')], { cwd: dir.path, database: database.url });
        expect(result.code).toBe(1);
        expectOneLine(result, /^error: `sesame db backup` works on a SQLite database, and DATABASE_URL is PostgreSQL \(.*\): back PostgreSQL up with pg_dump/);
      } finally {
        await database.drop();
      }
    });
  });
});

function apps(file: string): number {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    // `app list` leaves out the admin console's own app, which Sesame registers at start.
    return (db.prepare('SELECT count(*) AS n FROM applications WHERE id NOT IN (?, ?)').get(CONSOLE_CLIENT_ID, ACCOUNT_CLIENT_ID) as { n: number }).n;
  } finally {
    db.close();
  }
}
