import { CompiledQuery } from 'kysely';
import type { Database, Queryable } from './database.ts';
import { isPostgres } from './serialize.ts';
import { sendAhead, writeAhead } from './write-ahead.ts';

/**
 * Sign-in progress (an interaction, a code and its send count, a browser's session, an authorization
 * code on its way to the token endpoint) is worth little after a crash of the database server: the
 * person starts that sign-in again. On PostgreSQL a transaction of only such writes commits without
 * waiting for its WAL to reach the disk (`synchronous_commit` off for that transaction alone), so its
 * commit costs the server no flush and neither side a wait; a sign-in makes three of them.
 *
 * What that gives up: a crash of the PostgreSQL server or its machine may lose the last fraction of a
 * second of such commits (whole transactions, never part of one). A crash of Sesame loses nothing,
 * and a durable commit (accounts, grants, tokens, settings, audit records, the lockout's counts: every
 * other transaction) flushes everything committed before it. SQLite runs every commit this way here
 * (WAL with synchronous=NORMAL, src/db/sqlite.ts), so there this changes nothing.
 */
const WITHOUT_FLUSH_WAIT = CompiledQuery.raw('set local synchronous_commit to off');

/** Marks the transaction `tx` as sign-in progress only (see above): sent ahead, no round trip of its own. */
export async function commitWithoutFlushWait(tx: Queryable): Promise<void> {
  if (!tx.isTransaction) throw new Error('commitWithoutFlushWait needs a transaction');
  if (isPostgres(tx)) await tx.executeQuery(sendAhead(WITHOUT_FLUSH_WAIT));
}

/**
 * `writes` (sign-in progress only) in one transaction that commits without waiting for the flush, their
 * plain writes sent ahead (write-ahead.ts). On SQLite a single write needs no transaction of its own.
 */
export async function writeTransient(db: Database, writes: (tx: Queryable) => Promise<void>, { single = false } = {}): Promise<void> {
  if (single && !isPostgres(db)) return writes(db);
  await db.transaction().execute(async (tx) => {
    await commitWithoutFlushWait(tx);
    await writeAhead(tx, () => writes(tx));
  });
}
