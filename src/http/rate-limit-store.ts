import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Queryable } from '../db/database.ts';
import { addHits, addHitsToMany, type WindowTotal } from '../db/rate-limit-hits.ts';

type Answer = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** How long hits answered from this process's own count wait before they are added to the shared one. */
export const RATE_LIMIT_FLUSH_MS = 200;

/**
 * The share of a budget a key may use, as far as this process knows, before every further hit is
 * counted in the database before it is answered. Low enough that several instances each answering
 * that much from their own count stay well inside the budget together.
 */
export const LOCAL_SHARE = 1 / 8;

/** One key's window as this process sees it. */
interface Counter {
  readonly key: string;
  readonly windowMs: number;
  /** When the window started (the database's start once it has answered). */
  windowStart: number;
  /** The database's total at its last answer. */
  shared: number;
  /** Hits sent to the database whose answer has not come back. */
  inFlight: number;
  /** Hits counted here and not sent yet. */
  pending: number;
}

/**
 * The counts behind the store: every key's window in this process, shared by the store and its
 * children (their keys carry their group). See databaseRateLimitStore for the model.
 */
class SharedCounters {
  private readonly counters = new Map<string, Counter>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
  ) {}

  hit(key: string, windowMs: number, max: number, answer: Answer): void {
    const at = this.now();
    let counter = this.counters.get(key);
    if (!counter || counter.windowMs !== windowMs || counter.windowStart + windowMs <= at) {
      counter = { key, windowMs, windowStart: at, shared: 0, inFlight: 0, pending: 0 };
      this.counters.set(key, counter);
    }
    counter.pending += 1;
    const known = counter.shared + counter.inFlight + counter.pending;
    if (known <= max * LOCAL_SHARE) {
      this.scheduleFlush();
      answer(null, { current: known, ttl: counter.windowStart + windowMs - at });
      return;
    }
    // Near the budget: this hit and every one not yet sent are counted in the database first, and the
    // answer is the database's total, which holds every instance's hits sent so far.
    const amount = counter.pending;
    counter.pending = 0;
    counter.inFlight += amount;
    const sent = counter;
    addHits(this.db, key, amount, at, windowMs).then(
      (total) => {
        sent.inFlight -= amount;
        this.learn(sent, total);
        answer(null, { current: total.hits, ttl: Math.max(0, total.windowStart + windowMs - at) });
      },
      (error: Error) => {
        // Not counted: they go with the next flush (the plugin lets the request through, skipOnError).
        sent.inFlight -= amount;
        sent.pending += amount;
        this.scheduleFlush();
        answer(error);
      },
    );
  }

  /** Adds every pending hit to the database, one statement per window length. */
  async flush(): Promise<void> {
    this.timer = undefined;
    const at = this.now();
    const byWindow = new Map<number, { counter: Counter; amount: number }[]>();
    for (const counter of this.counters.values()) {
      if (counter.pending === 0) {
        // Over and settled: forget it (a new hit starts a new window).
        if (counter.inFlight === 0 && counter.windowStart + counter.windowMs <= at) this.counters.delete(counter.key);
        continue;
      }
      const amount = counter.pending;
      counter.pending = 0;
      counter.inFlight += amount;
      const group = byWindow.get(counter.windowMs) ?? [];
      group.push({ counter, amount });
      byWindow.set(counter.windowMs, group);
    }
    await Promise.all(
      [...byWindow].map(async ([windowMs, sent]) => {
        let totals: Map<string, WindowTotal> | undefined;
        try {
          totals = await addHitsToMany(this.db, sent.map(({ counter, amount }) => ({ key: counter.key, amount })), at, windowMs);
        } finally {
          for (const { counter, amount } of sent) {
            counter.inFlight -= amount;
            const total = totals?.get(counter.key);
            if (total) this.learn(counter, total);
            // The database could not count them: they go with the next flush.
            else counter.pending += amount;
          }
          if (!totals) this.scheduleFlush();
        }
      }),
    ).catch(() => undefined);
  }

  /** Pending hits are flushed soon; nothing keeps the process alive for them. */
  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), RATE_LIMIT_FLUSH_MS);
    this.timer.unref();
  }

  /** What the database answered about `counter`'s key. */
  private learn(counter: Counter, total: WindowTotal): void {
    if (total.windowStart > counter.windowStart) {
      // The database started a new window: its count is the whole truth for it.
      counter.windowStart = total.windowStart;
      counter.shared = total.hits;
    } else {
      // Answers may come back out of order: the largest total is the latest.
      counter.shared = Math.max(counter.shared, total.hits);
    }
  }
}

/**
 * A @fastify/rate-limit store whose counters are shared through the database (the rate_limit_hits
 * table), so every instance on one PostgreSQL database (and every WORKERS process) counts against the
 * same budget: N instances behind a load balancer allow what one would, not N times as much. Fixed
 * windows, like the plugin's own in-memory store.
 *
 * A request costs no database statement while its key is far from the budget: it is counted here and
 * answered at once, and what was counted is added to the shared counters within RATE_LIMIT_FLUSH_MS,
 * all keys together in one statement. Once a key has used LOCAL_SHARE of its budget (as far as this
 * process knows), each of its hits is added to the database before it is answered, with the ones not
 * yet sent, and the answer is the shared total: from there on the budget holds exactly, whichever
 * instance a request reaches. At most LOCAL_SHARE of the budget per instance, sent within
 * RATE_LIMIT_FLUSH_MS, can be missing from a total, so N instances can let through at most
 * (N - 1) x LOCAL_SHARE of a budget too many, and only in a burst shorter than that.
 *
 * The plugin constructs the store itself (`new Store(options)`), so this returns a class bound to
 * `db`. Each limiter made with `createRateLimit({ groupId })` gets a child whose keys carry that
 * group (the /oidc budgets), apart from the global limit's.
 */
export function databaseRateLimitStore(db: Queryable, now: () => number = Date.now) {
  const counters = new SharedCounters(db, now);
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    /** For tests and shutdown: add every hit counted here to the shared counters now. */
    static flush(): Promise<void> {
      return counters.flush();
    }

    constructor(
      _options?: unknown,
      private readonly group = 'all',
    ) {}

    incr(key: string, answer: Answer, timeWindow: number, max: number): void {
      counters.hit(`${this.group}:${key}`, timeWindow, max, answer);
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
