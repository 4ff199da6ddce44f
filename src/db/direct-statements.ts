import type { CompiledQuery, DialectAdapter, QueryResult } from 'kysely';

/**
 * Engines that can run a compiled statement from outside any transaction themselves, found by the
 * Kysely adapter of the database (the key prepared() already caches its compiled queries under).
 *
 * Kysely's executor wraps every statement in several promises (acquire a connection, run, release,
 * transform the result; no plugin is used, so the transform does nothing). Where a statement is a
 * synchronous function call (SQLite), those promises are most of its cost: with oidc-provider's
 * AsyncLocalStorage on, Node runs a hook for each one, and they made up a sixth of everything a
 * sign-in allocated. The SQLite engine and the PostgreSQL driver register the same steps without
 * them. Statements inside a transaction keep Kysely's path: its transaction object is what ties them
 * to their own transaction.
 *
 * A driver registers its runner in init() and withdraws it in destroy(): Kysely initializes a driver
 * at its first use through Kysely and destroys only a driver it initialized, so until then statements
 * take Kysely's path (and so initialize it), and a database whose every statement ran directly is
 * still closed by db.destroy().
 */
export type RunOutsideTransaction = (query: CompiledQuery) => Promise<QueryResult<unknown>>;

const engines = new WeakMap<DialectAdapter, RunOutsideTransaction>();

/** Registers `run` for the database whose Kysely adapter is `adapter`. */
export function runStatementsDirectly(adapter: DialectAdapter, run: RunOutsideTransaction): void {
  engines.set(adapter, run);
}

/** Withdraws `adapter`'s runner (its driver was destroyed: statements go to Kysely, which refuses them). */
export function stopRunningStatementsDirectly(adapter: DialectAdapter): void {
  engines.delete(adapter);
}

/** The engine's own runner for statements outside a transaction on `adapter`'s database, if it has one. */
export function directRunner(adapter: DialectAdapter): RunOutsideTransaction | undefined {
  return engines.get(adapter);
}
