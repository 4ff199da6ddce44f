import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Database } from './database.ts';

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function readMigrations(directory: string): Promise<MigrationFile[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: MigrationFile[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`migration file name "${file}" must look like 0001_name.sql`);
    const sql = await readFile(join(directory, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

/**
 * Passed to Kysely's adapter: SQLite's takes none (BEGIN IMMEDIATE serialises writers); PostgreSQL's
 * is a transaction-level advisory lock, released at once outside a transaction, so on PostgreSQL the
 * caller holds a session lock around the whole run (migrateDatabase in src/db/open.ts).
 */
const LOCK = { lockTable: 'schema_migrations', lockRowId: 'migrate' } as const;

/**
 * Applies pending migrations in order, one transaction each, and records each in schema_migrations
 * with its checksum. Refuses to run when an already applied file changed: a silent schema drift is
 * worse than a failed start.
 *
 * The same on every engine: a file is one script, run whole by the driver (better-sqlite3's exec;
 * pg's simple query protocol), so no SQL is split here. Several processes may start at once on an
 * empty database: the whole run holds a migration lock (PostgreSQL: the session advisory lock that
 * migrateDatabase takes), and each file's transaction checks again that nobody applied it meanwhile.
 */
export async function migrate(db: Database, directory: string, now = Date.now): Promise<string[]> {
  const files = await readMigrations(directory);
  const { adapter } = db.getExecutor();
  return db.connection().execute(async (connection) => {
    await adapter.acquireMigrationLock(connection, LOCK);
    try {
      return await applyPending(connection, files, now);
    } finally {
      await adapter.releaseMigrationLock(connection, LOCK);
    }
  });
}

async function applyPending(db: Database, files: MigrationFile[], now: () => number): Promise<string[]> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('checksum', 'text', (column) => column.notNull())
    .addColumn('applied_at', 'bigint', (column) => column.notNull())
    .execute();
  const applied = new Map(
    (await db.selectFrom('schema_migrations').select(['version', 'checksum']).execute()).map((row) => [row.version, row.checksum]),
  );
  for (const file of files) {
    const checksum = applied.get(file.version);
    if (checksum !== undefined && checksum !== file.checksum) {
      throw new MigrationError(
        `migration ${file.name} was edited after it was applied (checksum differs); ` +
          'add a new migration instead of changing an applied one',
      );
    }
  }
  const done: string[] = [];
  for (const file of files) {
    if (applied.has(file.version)) continue;
    const ran = await db.transaction().execute(async (tx) => {
      const already = await tx.selectFrom('schema_migrations').select('version').where('version', '=', file.version).executeTakeFirst();
      if (already) return false;
      await sql.raw(file.sql).execute(tx);
      await tx
        .insertInto('schema_migrations')
        .values({ version: file.version, name: file.name, checksum: file.checksum, applied_at: now() })
        .execute();
      return true;
    });
    if (ran) done.push(file.name);
  }
  return done;
}
