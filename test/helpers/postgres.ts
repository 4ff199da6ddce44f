import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { databaseConfig, redactDatabaseUrl, type PostgresDatabaseConfig } from '../../src/config/database.ts';
import { connectionOptions, createPostgresPool } from '../../src/db/postgres.ts';

/**
 * PostgreSQL for tests. TEST_DATABASE_URL names a server and a database to connect to for
 * administration (e.g. postgres://postgres@127.0.0.1:5432/test); its user must be allowed to
 * CREATE DATABASE. Each test file gets a database of its own, created empty and dropped after
 * (DROP ... WITH (FORCE), PostgreSQL 13+), so files never see each other's rows and a server started
 * by a test can be given a plain DATABASE_URL. Without TEST_DATABASE_URL the suites are skipped,
 * and their title says why.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL?.trim() || undefined;

export const POSTGRES_SKIP_REASON = TEST_DATABASE_URL
  ? undefined
  : 'TEST_DATABASE_URL is not set (e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)';

export const MIGRATIONS = {
  sqlite: resolve(import.meta.dirname, '..', '..', 'migrations', 'sqlite'),
  postgres: resolve(import.meta.dirname, '..', '..', 'migrations', 'postgres'),
};

/** The migration files of migrations/postgres, in the order they apply. */
export const POSTGRES_MIGRATION_FILES = readdirSync(MIGRATIONS.postgres)
  .filter((file) => /^\d{4}_.*\.sql$/.test(file))
  .sort();

/** `describe` that runs only with TEST_DATABASE_URL; otherwise skipped, the reason in its title. */
export function describePostgres(name: string, fn: () => void): void {
  if (POSTGRES_SKIP_REASON) describe.skip(`${name} (skipped: ${POSTGRES_SKIP_REASON})`, fn);
  else describe(name, fn);
}

/** TEST_DATABASE_URL parsed as Sesame parses DATABASE_URL. */
export function adminConfig(): PostgresDatabaseConfig {
  if (!TEST_DATABASE_URL) throw new Error(POSTGRES_SKIP_REASON);
  const problems: string[] = [];
  const config = databaseConfig(TEST_DATABASE_URL, {}, problems);
  if (!config || config.kind !== 'postgres') throw new Error(`TEST_DATABASE_URL is not a PostgreSQL URL: ${problems.join('; ') || redactDatabaseUrl(TEST_DATABASE_URL)}`);
  return config;
}

/** `config` pointed at another database on the same server (URL and fields alike). */
export function withDatabase(config: PostgresDatabaseConfig, database: string): PostgresDatabaseConfig {
  const url = new URL(config.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  return { ...config, url: url.toString(), safeUrl: redactDatabaseUrl(url.toString()), database, pool: { ...config.pool } };
}

export interface TestDatabase {
  name: string;
  /** DATABASE_URL for this database (holds the password, if TEST_DATABASE_URL has one). */
  url: string;
  config: PostgresDatabaseConfig;
  /** A pool on this database, opened on first use and closed by drop(). */
  pool(): pg.Pool;
  drop(): Promise<void>;
}

async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const config = adminConfig();
  const client = new pg.Client(connectionOptions(config));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database named sesame_test_<time>_<random> (from template0: nothing in it). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sesame_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await asAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`));
  const config = withDatabase(adminConfig(), name);
  let pool: pg.Pool | undefined;
  return {
    name,
    url: config.url,
    config,
    pool: () => (pool ??= createPostgresPool(config)),
    async drop() {
      await pool?.end().catch(() => undefined);
      await asAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * beforeAll: a fresh database for this file; afterAll: drop it. Read `.current` inside tests.
 * Call inside describePostgres so nothing is created when TEST_DATABASE_URL is unset.
 */
export function useTestDatabase(): { readonly current: TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    get current() {
      if (!database) throw new Error('the test database is created in beforeAll');
      return database;
    },
  };
}

/**
 * Applies migrations/postgres in order, each file whole in one transaction (a stand-in for the
 * shared migration runner, which records versions; enough to prove the files apply). `upTo` stops
 * after that version.
 */
export async function applyPostgresMigrations(pool: pg.Pool, options: { upTo?: number; from?: number } = {}): Promise<string[]> {
  const files = POSTGRES_MIGRATION_FILES.filter((file) => {
    const version = Number(file.slice(0, 4));
    return version >= (options.from ?? 0) && version <= (options.upTo ?? Infinity);
  });
  const client = await pool.connect();
  try {
    for (const file of files) {
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(join(MIGRATIONS.postgres, file), 'utf8'));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    client.release();
  }
  return files;
}

/** One table as both engines describe it, normalised so the two can be compared with toEqual. */
export interface TableShape {
  /** column -> "type, NOT NULL?, default" in SQLite's declared spelling (lower-case). */
  columns: Record<string, { type: string; notNull: boolean; default: string | null }>;
  primaryKey: string[];
  /** Column lists of UNIQUE constraints/indexes other than the primary key, sorted. */
  unique: string[];
  /** Indexes created with CREATE INDEX: name -> "col, col [partial]". */
  indexes: Record<string, string>;
}

export type SchemaShape = Record<string, TableShape>;

/** Literal defaults without PostgreSQL's casts: `'{}'::text` -> `'{}'`. */
function normaliseDefault(value: string | null): string | null {
  return value === null ? null : value.replace(/::[a-z ]+$/i, '').trim();
}

/** migrations/sqlite applied to an in-memory SQLite database (better-sqlite3 directly), described. */
export function sqliteSchemaShape(directory = MIGRATIONS.sqlite): SchemaShape {
  const db = new BetterSqlite3(':memory:');
  try {
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.sql')).sort()) db.exec(readFileSync(join(directory, file), 'utf8'));
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const shape: SchemaShape = {};
    for (const { name } of tables) {
      const info = db.prepare(`PRAGMA table_info(${JSON.stringify(name)})`).all() as {
        name: string;
        type: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }[];
      const primaryKey = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name);
      // INTEGER PRIMARY KEY AUTOINCREMENT numbers rows itself, 64-bit: PostgreSQL's BIGINT identity column.
      const tableSql = (db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').get(name) as { sql: string }).sql;
      const autoNumbered = primaryKey.length === 1 && /\bAUTOINCREMENT\b/i.test(tableSql) ? primaryKey[0] : undefined;
      const columns: TableShape['columns'] = {};
      for (const column of info) {
        // A primary-key column is NOT NULL in PostgreSQL; SQLite's pragma says 0 unless declared.
        const type = column.name === autoNumbered ? 'bigint identity' : column.type.toLowerCase();
        columns[column.name] = { type, notNull: column.notnull === 1 || column.pk > 0, default: normaliseDefault(column.dflt_value) };
      }
      const unique: string[] = [];
      const indexes: Record<string, string> = {};
      for (const index of db.prepare(`PRAGMA index_list(${JSON.stringify(name)})`).all() as { name: string; unique: number; origin: string; partial: number }[]) {
        const cols = (db.prepare(`PRAGMA index_info(${JSON.stringify(index.name)})`).all() as { seqno: number; name: string }[])
          .sort((a, b) => a.seqno - b.seqno)
          .map((column) => column.name)
          .join(', ');
        if (index.origin === 'u') unique.push(cols);
        else if (index.origin === 'c') indexes[index.name] = `${index.unique ? 'unique ' : ''}${cols}${index.partial ? ' [partial]' : ''}`;
      }
      shape[name] = { columns, primaryKey, unique: unique.sort(), indexes };
    }
    return shape;
  } finally {
    db.close();
  }
}

/** The same description of a PostgreSQL schema (default: public), from the catalogs. */
export async function postgresSchemaShape(pool: pg.Pool, schema = 'public'): Promise<SchemaShape> {
  const shape: SchemaShape = {};
  const { rows: columns } = await pool.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null; is_identity: string }>(
    `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns
      WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  for (const column of columns) {
    const table = (shape[column.table_name] ??= { columns: {}, primaryKey: [], unique: [], indexes: {} });
    table.columns[column.column_name] = {
      type: `${column.data_type.toLowerCase()}${column.is_identity === 'YES' ? ' identity' : ''}`,
      notNull: column.is_nullable === 'NO',
      default: normaliseDefault(column.column_default),
    };
  }
  const { rows: indexes } = await pool.query<{ table_name: string; index_name: string; is_primary: boolean; is_unique: boolean; partial: boolean; constraint_type: string | null; columns: string[] }>(
    `SELECT t.relname AS table_name, i.relname AS index_name, x.indisprimary AS is_primary, x.indisunique AS is_unique,
            x.indpred IS NOT NULL AS partial, c.contype::text AS constraint_type,
            ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = t.oid
      WHERE n.nspname = $1`,
    [schema],
  );
  for (const index of indexes) {
    const table = shape[index.table_name];
    if (!table) continue;
    const cols = index.columns.join(', ');
    if (index.is_primary) table.primaryKey = index.columns;
    else if (index.constraint_type === 'u') table.unique.push(cols);
    else table.indexes[index.index_name] = `${index.is_unique ? 'unique ' : ''}${cols}${index.partial ? ' [partial]' : ''}`;
  }
  for (const table of Object.values(shape)) table.unique.sort();
  return shape;
}
