import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/**
 * The storage seam: a Kysely query builder over the tables in schema.ts, whatever the engine
 * (src/db/sqlite.ts, or PostgreSQL through createPostgresDialect in src/db/postgres.ts; src/db/open.ts
 * opens the configured one). Query modules in src/db take a `Queryable` and build typed queries;
 * nothing outside src/db writes SQL.
 *
 * Kysely's own API, with no wrapper: `db.transaction().execute(async (tx) => ...)` runs a
 * transaction, and `tx` (a Kysely `Transaction`) is itself a `Kysely<Schema>`, so every query
 * function takes the database or a transaction alike. `db.destroy()` closes it.
 */
export type Database = Kysely<Schema>;

/** The database or a transaction: what query functions take. */
export type Queryable = Kysely<Schema>;

/**
 * The database cannot serve the request: locked by another program for too long, read-only, full,
 * damaged, failing I/O, or closed. `reason` is a short word for /health and logs; `message` says
 * what happened and what to do; `cause` keeps the driver's error. Callers answer 503, never 500.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isDatabaseUnavailable(error: unknown): error is DatabaseUnavailableError {
  return error instanceof DatabaseUnavailableError;
}

/** A write refused because a row with the same unique key exists (SQLite's constraint error, PostgreSQL's 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
