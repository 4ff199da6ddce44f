import { createHash } from 'node:crypto';
import { PostgresAdapter, sql } from 'kysely';
import type { Queryable } from './database.ts';
import { sendAhead } from './write-ahead.ts';

/**
 * Makes the caller's transaction the only one, across every instance, working on `subjects` (e.g.
 * "sends:email:ann@example.com") until it commits or rolls back. Limits that count rows and then add
 * one (code sends per address and IP, wrong guesses per code, failures per address) need it on
 * PostgreSQL: under READ COMMITTED two transactions would both count N-1 and both go ahead. There it
 * takes a transaction advisory lock per subject, in sorted order so two callers never deadlock.
 *
 * On SQLite it does nothing: one process runs one transaction at a time on its connection, and the
 * file lets one writer in at a time.
 */
export async function serializeOn(tx: Queryable, subjects: readonly string[]): Promise<void> {
  if (!tx.isTransaction) throw new Error('serializeOn needs a transaction: its locks last until the transaction ends');
  if (!isPostgres(tx) || subjects.length === 0) return;
  // One statement: PostgreSQL takes the locks in the order they are listed. It is sent ahead, with
  // the transaction's next statement: that statement runs once the locks are held (in READ
  // COMMITTED it reads as of its own start), so the locks cost no round trip of their own.
  const locks = [...new Set(subjects)].sort().map((subject) => sql`pg_advisory_xact_lock(${advisoryLockKey(subject)}::bigint)`);
  await tx.executeQuery(sendAhead(sql`SELECT ${sql.join(locks)}`.compile(tx)));
}

/** Whether `db` talks to PostgreSQL (queries that lock rows differ from SQLite's). */
export function isPostgres(db: Queryable): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * A session advisory lock's 64-bit key from a name ('sesame:migrations', 'sesame:purge'): the first
 * 8 bytes of its SHA-256, signed, as a decimal string (what pg_advisory_lock(bigint) takes).
 */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
