import type { CompiledQuery } from 'kysely';
import type { Queryable } from './database.ts';

/**
 * Writes sent ahead: in a transaction, an INSERT, UPDATE or DELETE whose outcome the transaction does
 * not look at (no RETURNING, the affected-row count unused) need not cost a round trip of its own on
 * PostgreSQL. The driver holds it and sends it with the transaction's next statement or its COMMIT,
 * in one write (src/db/postgres.ts); if it fails, that statement or the commit fails with its error,
 * and the whole transaction is rolled back, as when it fails on its own. SQLite runs it at once (a
 * statement there is a function call, not a round trip).
 *
 * Only prepared() queries are sent ahead, and only plain writes among them: a read or a RETURNING
 * made inside writeAhead() runs as usual, so nothing can be handed an empty answer. The one other
 * statement sent ahead is serializeOn's lock (sendAhead), whose answer is nothing.
 */
const WRITTEN_AHEAD = Symbol('written ahead');

const writingAhead = new WeakSet<Queryable>();

/**
 * Runs `writes` (the tail of a transaction: the writes it ends with) so that the plain writes they
 * make through prepared() queries in `tx` are sent ahead. Their failures surface at the commit.
 */
export async function writeAhead<T>(tx: Queryable, writes: () => Promise<T>): Promise<T> {
  writingAhead.add(tx);
  try {
    return await writes();
  } finally {
    writingAhead.delete(tx);
  }
}

/** An INSERT, UPDATE or DELETE without RETURNING: nothing in its answer but a count. */
export function isPlainWrite(query: CompiledQuery): boolean {
  const node = query.query as { kind: string; returning?: unknown };
  return (node.kind === 'InsertQueryNode' || node.kind === 'UpdateQueryNode' || node.kind === 'DeleteQueryNode') && !node.returning;
}

/** `query` marked to be sent ahead, if `db` is inside writeAhead() and `plainWrite` (isPlainWrite of it) holds. */
export function aheadIfWriting<Q extends CompiledQuery>(db: Queryable, query: Q, plainWrite: boolean): Q {
  return plainWrite && writingAhead.has(db) ? sendAhead(query) : query;
}

/**
 * `query` marked to be sent ahead whatever it is: for a statement in a transaction whose answer holds
 * nothing (serializeOn's advisory locks). Whatever follows it in the transaction still runs after it
 * on the server, so a read that follows sees what the lock protects.
 */
export function sendAhead<Q extends CompiledQuery>(query: Q): Q {
  return { ...query, [WRITTEN_AHEAD]: true };
}

export function isWrittenAhead(query: CompiledQuery): boolean {
  return (query as CompiledQuery & { [WRITTEN_AHEAD]?: boolean })[WRITTEN_AHEAD] === true;
}
