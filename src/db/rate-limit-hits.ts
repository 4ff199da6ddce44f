import { sql } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';

/**
 * Counts one hit against `key` in its fixed window of `windowMs` and returns the count and the
 * window's start, in one statement: the row is created, incremented, or restarted when its window
 * has passed, atomically, so instances counting the same key at once never lose a hit.
 */
const countHit = prepared((db, p: { key: string; now: number; windowMs: number }) =>
  db
    .insertInto('rate_limit_hits')
    .values({ key: p.key, window_start: p.now, hits: 1 })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet({
        hits: sql<number>`CASE WHEN rate_limit_hits.window_start + ${p.windowMs} <= ${p.now} THEN 1 ELSE rate_limit_hits.hits + 1 END`,
        window_start: sql<number>`CASE WHEN rate_limit_hits.window_start + ${p.windowMs} <= ${p.now} THEN ${p.now} ELSE rate_limit_hits.window_start END`,
      }),
    )
    .returning(['hits', 'window_start']),
);

export async function recordHit(db: Queryable, key: string, now: number, windowMs: number): Promise<{ hits: number; windowStart: number }> {
  const [row] = (await countHit(db, { key, now, windowMs })).rows;
  if (!row) throw new Error('the rate-limit upsert returned no row');
  return { hits: Number(row.hits), windowStart: Number(row.window_start) };
}

/** Windows that started before `before` are over (each lasts a minute or so): the purge drops them. */
export async function purgeRateLimitHits(db: Queryable, before: number): Promise<number> {
  const result = await db.deleteFrom('rate_limit_hits').where('window_start', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
