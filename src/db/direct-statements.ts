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
 */
export type RunOutsideTransaction = (query: CompiledQuery) => Promise<QueryResult<unknown>>;

const engines = new WeakMap<DialectAdapter, RunOutsideTransaction>();

/** Registers `run` for the database whose Kysely adapter is `adapter`. */
export function runStatementsDirectly(adapter: DialectAdapter, run: RunOutsideTransaction): void {
  engines.set(adapter, run);
}

/** The engine's own runner for statements outside a transaction on `adapter`'s database, if it has one. */
export function directRunner(adapter: DialectAdapter): RunOutsideTransaction | undefined {
  return engines.get(adapter);
}
