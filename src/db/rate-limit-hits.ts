import { sql, type OnConflictBuilder } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import type { Schema } from './schema.ts';

/** A key's count in its current window, as the database holds it after an addition. */
export interface WindowTotal {
  hits: number;
  windowStart: number;
}

/**
 * On a key that has a row: add the new hits to its window, or start a new window with them once the
 * stored one (`windowMs` long) has passed. `windowMs` is a value or a prepared() placeholder.
 */
const addOrRestart = (windowMs: unknown) => (conflict: OnConflictBuilder<Schema, 'rate_limit_hits'>) =>
  conflict.column('key').doUpdateSet({
    hits: sql<number>`CASE WHEN rate_limit_hits.window_start + ${windowMs} <= excluded.window_start THEN excluded.hits ELSE rate_limit_hits.hits + excluded.hits END`,
    window_start: sql<number>`CASE WHEN rate_limit_hits.window_start + ${windowMs} <= excluded.window_start THEN excluded.window_start ELSE rate_limit_hits.window_start END`,
  });

/**
 * Adds `amount` hits to `key` in its fixed window of `windowMs` and returns the window's total and
 * start, in one statement: the row is created, added to, or restarted when its window has passed,
 * atomically, so instances counting the same key at once never lose a hit.
 */
const addToWindow = prepared((db, p: { key: string; amount: number; now: number; windowMs: number }) =>
  db
    .insertInto('rate_limit_hits')
    .values({ key: p.key, window_start: p.now, hits: p.amount })
    .onConflict(addOrRestart(p.windowMs))
    .returning(['hits', 'window_start']),
);

export async function addHits(db: Queryable, key: string, amount: number, now: number, windowMs: number): Promise<WindowTotal> {
  const [row] = (await addToWindow(db, { key, amount, now, windowMs })).rows;
  if (!row) throw new Error('the rate-limit upsert returned no row');
  return { hits: Number(row.hits), windowStart: Number(row.window_start) };
}

/** Keys per statement in addHitsToMany: 3 parameters each, well under SQLite's and PostgreSQL's limits. */
export const ADD_HITS_BATCH = 500;

/**
 * addHits for many keys with one window length at once: one statement per ADD_HITS_BATCH keys (the
 * store's periodic flush). Keys must be distinct. Returns each key's total.
 */
export async function addHitsToMany(
  db: Queryable,
  additions: readonly { key: string; amount: number }[],
  now: number,
  windowMs: number,
): Promise<Map<string, WindowTotal>> {
  const totals = new Map<string, WindowTotal>();
  for (let start = 0; start < additions.length; start += ADD_HITS_BATCH) {
    const rows = await db
      .insertInto('rate_limit_hits')
      .values(additions.slice(start, start + ADD_HITS_BATCH).map(({ key, amount }) => ({ key, window_start: now, hits: amount })))
      .onConflict(addOrRestart(windowMs))
      .returning(['key', 'hits', 'window_start'])
      .execute();
    for (const row of rows) totals.set(row.key, { hits: Number(row.hits), windowStart: Number(row.window_start) });
  }
  return totals;
}

/** The database's count for `key` (tests and diagnostics). */
export async function readHits(db: Queryable, key: string): Promise<WindowTotal | undefined> {
  const row = await db.selectFrom('rate_limit_hits').select(['hits', 'window_start']).where('key', '=', key).executeTakeFirst();
  return row && { hits: Number(row.hits), windowStart: Number(row.window_start) };
}

/** Windows that started before `before` are over (each lasts a minute or so): the purge drops them. */
export async function purgeRateLimitHits(db: Queryable, before: number): Promise<number> {
  const result = await db.deleteFrom('rate_limit_hits').where('window_start', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
