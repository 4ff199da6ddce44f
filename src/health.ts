import type { FastifyInstance } from 'fastify';
import { isDatabaseUnavailable, type Database } from './db/database.ts';
import { writeHealthCheck } from './db/health-check.ts';
import { clusterWorkers } from './cluster.ts';

/** What a person sees while the database cannot serve: a 503 with this page (or JSON) and Retry-After. */
export const UNAVAILABLE = {
  title: 'Temporarily unavailable',
  message: 'The sign-in service cannot reach its data right now. Please try again in a minute.',
  retryAfterSeconds: 30,
} as const;

export interface HealthOptions {
  db: Database;
  /** Longest /health waits for the database before it answers 503 (ms). */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * GET /health answers 200 `{status:'ok', database:'ok'}` only when the database takes a write: a
 * one-row upsert, committed, because a database that still reads but cannot write (read-only file,
 * full disk, a lock held by another program) cannot sign anyone in. Otherwise, or when the write
 * does not finish within `timeoutMs`, it answers 503 `{status:'unavailable', database: reason}`
 * (reason: locked, read-only, disk full, I/O error, damaged, closed, timeout, ...). The change of
 * state is logged with its cause, once per change rather than once per probe.
 */
export function healthRoute(app: FastifyInstance, { db, timeoutMs = 1000, now = Date.now }: HealthOptions): void {
  let inFlight: Promise<string> | undefined;
  let last = 'ok';

  const probe = (): Promise<string> => {
    inFlight ??= writeHealthCheck(db, now())
      .then(() => 'ok')
      .finally(() => (inFlight = undefined));
    return inFlight;
  };

  app.get('/health', async (request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const check = probe();
    let state: string;
    let cause: unknown;
    try {
      state = await Promise.race([check, timedOut]);
    } catch (error) {
      cause = error;
      state = isDatabaseUnavailable(error) ? error.reason : 'unreachable';
    } finally {
      clearTimeout(timer);
    }
    // A write still waiting for a lock finishes (or fails) on its own; nobody waits for it.
    if (state === 'timeout') check.catch(() => undefined);
    if (state !== last) {
      if (state === 'ok') request.log.info(`health: the database works again (was: ${last})`);
      else request.log.error({ err: cause }, `health: the database is unavailable (${state}${state === 'timeout' ? `: no write within ${timeoutMs} ms` : ''})`);
      last = state;
    }
    reply.header('cache-control', 'no-store');
    // With WORKERS, how many of them serve (the one answering is one of them).
    const workers = clusterWorkers();
    if (state === 'ok') return { status: 'ok', database: 'ok', ...(workers && { workers }) };
    return reply.code(503).send({ status: 'unavailable', database: state, ...(workers && { workers }) });
  });
}
