import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Queryable } from '../db/database.ts';
import { recordHit } from '../db/rate-limit-hits.ts';

type Answer = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * A @fastify/rate-limit store that keeps its counters in the database (the rate_limit_hits table),
 * so every instance on one PostgreSQL database counts against the same budget: N instances behind a
 * load balancer allow what one would, not N times as much. One atomic upsert per request (see
 * src/db/rate-limit-hits.ts); fixed windows, like the plugin's own in-memory store.
 *
 * The plugin constructs the store itself (`new Store(options)`), so this returns a class bound to
 * `db`. Each limiter made with `createRateLimit({ groupId })` gets a child whose keys carry that
 * group (the /oidc budgets), apart from the global limit's.
 */
export function databaseRateLimitStore(db: Queryable) {
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    constructor(
      _options?: unknown,
      private readonly group = 'all',
    ) {}

    incr(key: string, answer: Answer, timeWindow: number): void {
      const now = Date.now();
      recordHit(db, `${this.group}:${key}`, now, timeWindow).then(
        ({ hits, windowStart }) => answer(null, { current: hits, ttl: Math.max(0, windowStart + timeWindow - now) }),
        (error: Error) => answer(error),
      );
    }

    /**
     * Typed as a route's options, but what @fastify/rate-limit passes is the limiter's merged options,
     * which carry the groupId given to createRateLimit.
     */
    child(options: object): DatabaseRateLimitStore {
      const { groupId } = options as { groupId?: unknown };
      return new DatabaseRateLimitStore(undefined, typeof groupId === 'string' ? groupId : this.group);
    }
  };
}
