import { createHash } from 'node:crypto';
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Queryable } from './database.ts';
import { aheadIfWriting, isPlainWrite } from './write-ahead.ts';
import { directRunner } from './direct-statements.ts';

/**
 * Set on the compiled queries prepared() runs: a name derived from the SQL text, under which the
 * PostgreSQL driver has the server prepare the statement once per connection (parse and plan once,
 * then only bind and execute; src/db/postgres.ts). Only fixed-shape queries carry one, so the number
 * of statements a connection keeps stays small. SQLite caches statements by their text anyway.
 */
export const STATEMENT_NAME = Symbol('statement name');

export function statementNameOf(query: CompiledQuery): string | undefined {
  return (query as CompiledQuery & { [STATEMENT_NAME]?: string })[STATEMENT_NAME];
}

/**
 * Set on the compiled queries prepared() runs that never wait for a lock another transaction holds:
 * a SELECT with no locking clause (FOR UPDATE, FOR SHARE, ...) and no WITH (which could hold a write),
 * or a write its prepared() call declares `lockFree`. Outside a transaction the PostgreSQL driver may
 * queue such a statement behind other requests' on one shared connection (src/db/postgres.ts), which
 * is safe only because none of them can wait on a transaction in progress.
 */
const LOCK_FREE = Symbol('lock free');

export function isLockFree(query: CompiledQuery): boolean {
  return (query as CompiledQuery & { [LOCK_FREE]?: boolean })[LOCK_FREE] === true;
}

export interface PreparedOptions {
  /**
   * The statement is a write that cannot wait for another transaction's lock: an INSERT of a fresh
   * random key into a table no foreign key points from (audit records). Reads need no such word.
   */
  lockFree?: boolean;
}

function readsOnly(query: CompiledQuery): boolean {
  const node = query.query as { kind: string; endModifiers?: unknown[]; with?: unknown };
  return node.kind === 'SelectQueryNode' && !node.endModifiers?.length && !node.with;
}

const NAME = Symbol('parameter');
interface Placeholder {
  readonly [NAME]: string;
}
const isPlaceholder = (value: unknown): value is Placeholder => typeof value === 'object' && value !== null && NAME in value;

/** Where each parameter of the compiled SQL comes from: an argument by name, or a constant of the query. */
type Slot = { name: string } | { constant: unknown };

/**
 * A query of fixed shape, built and compiled once per database; each call binds its arguments to
 * the same SQL text (which the driver's statement cache then finds prepared). Kysely otherwise
 * builds an operation tree and compiles it to SQL on every call, which costs more CPU than SQLite
 * takes to run a small indexed query: the queries that run several times per sign-in use this.
 *
 * `build` gets placeholders for `params` and must use each only as a value (`where(col, '=',
 * p.x)`, `values({ col: p.x })`), never look at it: the shape of the query may not depend on them.
 */
export function prepared<P extends Record<string, unknown>, R>(
  build: (db: Queryable, params: P) => Compilable<R>,
  options: PreparedOptions = {},
): (db: Queryable, params: P) => Promise<QueryResult<R>> {
  // Per adapter: one per database (its transactions share it), and so one per SQL dialect.
  const compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: Slot[]; plainWrite: boolean }>();
  const compile = (db: Queryable) => {
    const placeholders = new Proxy<P>({} as P, { get: (_target, name) => ({ [NAME]: String(name) }) });
    const query = build(db, placeholders).compile();
    const name = `sesame_${createHash('sha256').update(query.sql).digest('base64url').slice(0, 20)}`;
    const slots = query.parameters.map((value): Slot => (isPlaceholder(value) ? { name: value[NAME] } : { constant: value }));
    const marks = { [STATEMENT_NAME]: name, ...((options.lockFree || readsOnly(query)) && { [LOCK_FREE]: true }) };
    const entry = { query: { ...query, ...marks } as CompiledQuery<R>, slots, plainWrite: isPlainWrite(query) };
    compiled.set(db.getExecutor().adapter, entry);
    return entry;
  };
  return (db, params) => {
    const { adapter } = db.getExecutor();
    const { query, slots, plainWrite } = compiled.get(adapter) ?? compile(db);
    const parameters = slots.map((slot) => ('name' in slot ? params[slot.name] : slot.constant));
    // Outside a transaction, straight to an engine that runs statements itself (see direct-statements.ts).
    const direct = db.isTransaction ? undefined : directRunner(adapter);
    if (direct) return direct({ ...query, parameters }) as Promise<QueryResult<R>>;
    // Sent ahead (see write-ahead.ts) when run inside writeAhead().
    return db.executeQuery<R>(aheadIfWriting(db, { ...query, parameters }, plainWrite));
  };
}
