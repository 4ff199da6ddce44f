import { cpSync, mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/db/sqlite.ts';
import { migrate, MigrationError, splitStatements } from '../../src/db/migrate.ts';

const MIGRATIONS = resolve(import.meta.dirname, '../../migrations/sqlite');
const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-migrate-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('apply every file on a fresh database and are a no-op when up to date', async () => {
    const db = new SqliteDatabase(join(scratch(), 'a.db'));
    const applied = await migrate(db, MIGRATIONS);
    expect(applied[0]).toBe('0001_init.sql');
    const tables = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['applications', 'oidc_model_instances', 'users', 'server_keys', 'verification_codes', 'settings', 'schema_migrations']),
    );
    expect(await migrate(db, MIGRATIONS)).toEqual([]);
    const rows = await db.all<{ version: number }>('SELECT version FROM schema_migrations');
    expect(rows.length).toBe(applied.length);
    await db.close();
  });

  it('refuses to start when an applied migration file was edited', async () => {
    const dir = scratch();
    const copy = join(dir, 'migrations');
    cpSync(MIGRATIONS, copy, { recursive: true });
    const db = new SqliteDatabase(join(dir, 'b.db'));
    await migrate(db, copy);
    appendFileSync(join(copy, '0001_init.sql'), '\n-- a harmless-looking edit\n');
    await expect(migrate(db, copy)).rejects.toThrow(MigrationError);
    await expect(migrate(db, copy)).rejects.toThrow(/0001_init\.sql was edited after it was applied/);
    await db.close();
  });

  it('roll back a failing migration completely', async () => {
    const dir = scratch();
    const copy = join(dir, 'migrations');
    cpSync(MIGRATIONS, copy, { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(copy, '9999_broken.sql'), 'CREATE TABLE half_done (id TEXT);\nINSERT INTO no_such_table VALUES (1);\n');
    const db = new SqliteDatabase(join(dir, 'c.db'));
    await expect(migrate(db, copy)).rejects.toThrow(/no_such_table/);
    expect(await db.get("SELECT name FROM sqlite_master WHERE name = 'half_done'")).toBeUndefined();
    expect(await db.get('SELECT version FROM schema_migrations WHERE version = 9999')).toBeUndefined();
    await db.close();
  });

  it('split statements on semicolons at line ends and skip comment lines', () => {
    expect(splitStatements('-- c\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a (x);')).toEqual([
      'CREATE TABLE a (x TEXT)',
      'CREATE INDEX i ON a (x)',
    ]);
  });
});

describe('SqliteDatabase transactions', () => {
  it('keep statements from outside a transaction out of it, so a rollback undoes only its own writes', async () => {
    const db = new SqliteDatabase(join(scratch(), 't.db'));
    await db.exec('CREATE TABLE t (v TEXT)');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = db
      .transaction(async (q) => {
        await q.run("INSERT INTO t VALUES ('inside')");
        await gate;
        throw new Error('roll back');
      })
      .catch(() => undefined);
    const outside = db.run("INSERT INTO t VALUES ('outside')");
    release();
    await tx;
    await outside;
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 'outside' }]);
    await db.close();
  });
});
