import { cpSync, mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openSqlite } from '../../src/db/sqlite.ts';
import { migrate, MigrationError } from '../../src/db/migrate.ts';

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
    const db = openSqlite(join(scratch(), 'a.db'));
    const applied = await migrate(db, MIGRATIONS);
    expect(applied[0]).toBe('0001_init.sql');
    const { rows: tables } = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db);
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['applications', 'oidc_model_instances', 'users', 'server_keys', 'verification_codes', 'settings', 'schema_migrations']),
    );
    expect(await migrate(db, MIGRATIONS)).toEqual([]);
    const rows = await db.selectFrom('schema_migrations').select('version').execute();
    expect(rows.length).toBe(applied.length);
    await db.destroy();
  });

  it('refuses to start when an applied migration file was edited', async () => {
    const dir = scratch();
    const copy = join(dir, 'migrations');
    cpSync(MIGRATIONS, copy, { recursive: true });
    const db = openSqlite(join(dir, 'b.db'));
    await migrate(db, copy);
    appendFileSync(join(copy, '0001_init.sql'), '\n-- a harmless-looking edit\n');
    await expect(migrate(db, copy)).rejects.toThrow(MigrationError);
    await expect(migrate(db, copy)).rejects.toThrow(/0001_init\.sql was edited after it was applied/);
    await db.destroy();
  });

  it('roll back a failing migration completely', async () => {
    const dir = scratch();
    const copy = join(dir, 'migrations');
    cpSync(MIGRATIONS, copy, { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(copy, '9999_broken.sql'), 'CREATE TABLE half_done (id TEXT);\nINSERT INTO no_such_table VALUES (1);\n');
    const db = openSqlite(join(dir, 'c.db'));
    await expect(migrate(db, copy)).rejects.toThrow(/no_such_table/);
    expect((await sql`SELECT name FROM sqlite_master WHERE name = 'half_done'`.execute(db)).rows).toEqual([]);
    expect(await db.selectFrom('schema_migrations').select('version').where('version', '=', 9999).executeTakeFirst()).toBeUndefined();
    await db.destroy();
  });

  it('run each file whole, so a semicolon in a string or a trigger body is no statement end', async () => {
    const dir = scratch();
    const copy = join(dir, 'migrations');
    cpSync(MIGRATIONS, copy, { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      join(copy, '9998_script.sql'),
      "-- a comment; with a semicolon\nCREATE TABLE notes (v TEXT);\nINSERT INTO notes VALUES ('a;\nb');\n" +
        'CREATE TRIGGER notes_upper AFTER INSERT ON notes BEGIN\n  UPDATE notes SET v = upper(v) WHERE rowid = new.rowid;\nEND;\n' +
        "INSERT INTO notes VALUES ('c'); -- trailing comment\n",
    );
    const db = openSqlite(join(dir, 's.db'));
    expect(await migrate(db, copy)).toContain('9998_script.sql');
    expect((await sql`SELECT v FROM notes ORDER BY rowid`.execute(db)).rows).toEqual([{ v: 'a;\nb' }, { v: 'C' }]);
    await db.destroy();
  });
});

describe('SQLite transactions', () => {
  it('keep statements from outside a transaction out of it, so a rollback undoes only its own writes', async () => {
    const db = openSqlite(join(scratch(), 't.db'));
    await sql`CREATE TABLE t (v TEXT)`.execute(db);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = db
      .transaction()
      .execute(async (tx) => {
        await sql`INSERT INTO t VALUES ('inside')`.execute(tx);
        await gate;
        throw new Error('roll back');
      })
      .catch(() => undefined);
    const outside = sql`INSERT INTO t VALUES ('outside')`.execute(db);
    release();
    await tx;
    await outside;
    expect((await sql`SELECT v FROM t`.execute(db)).rows).toEqual([{ v: 'outside' }]);
    await db.destroy();
  });
});
