import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
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

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Applies pending migrations in order, one transaction each. Refuses to run when an already
 * applied file changed: a silent schema drift is worse than a failed start.
 */
export async function migrate(db: Database, directory: string, now = Date.now): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL
  )`);
  const files = await readMigrations(directory);
  const applied = new Map(
    (await db.all<AppliedRow>('SELECT version, name, checksum FROM schema_migrations')).map((row) => [
      row.version,
      row,
    ]),
  );
  for (const file of files) {
    const row = applied.get(file.version);
    if (row && row.checksum !== file.checksum) {
      throw new MigrationError(
        `migration ${file.name} was edited after it was applied (checksum differs); ` +
          'add a new migration instead of changing an applied one',
      );
    }
  }
  const done: string[] = [];
  for (const file of files) {
    if (applied.has(file.version)) continue;
    await db.transaction(async (tx) => {
      for (const statement of splitStatements(file.sql)) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', [
        file.version,
        file.name,
        file.checksum,
        now(),
      ]);
    });
    done.push(file.name);
  }
  return done;
}

/** Splits a migration into statements on `;` at line ends, ignoring `--` comment lines. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
