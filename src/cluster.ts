import cluster, { type Worker } from 'node:cluster';
import { pino, type Logger } from 'pino';
import type { Config } from './config/index.ts';
import { KEYS_LOCK, migrateDatabase, openDatabase, runSerialized } from './db/open.ts';
import { ensureServerKeys } from './oidc/keys.ts';

/**
 * WORKERS=N: N Sesame processes (node:cluster workers) on one port, so one box uses all its cores.
 * They share the database and nothing else, exactly like instances behind a load balancer (see
 * README "Several instances"): limits and rate-limit counters are in the database, caches follow
 * changes within seconds, the key ring re-reads keys every second. The primary process serves no
 * request; it prepares the database once, starts the workers, replaces one that dies, tells them
 * how many are up (for /health), and stops them gracefully on SIGTERM/SIGINT.
 */

/** Worker -> primary: listening. */
export interface WorkerReady {
  type: 'sesame:ready';
}
/** Primary -> worker: how many workers are serving (shown by /health), or stop now. */
export type PrimaryMessage = { type: 'sesame:workers'; ready: number; configured: number } | { type: 'sesame:shutdown' };

/** The worker's index (0..N-1), kept by its replacement: worker 0 runs the periodic purge on SQLite. */
export const WORKER_INDEX_VARIABLE = 'SESAME_WORKER_INDEX';

/** A worker that dies this soon after it started is restarted after a growing pause (a crash loop). */
const QUICK_DEATH_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** Workers still running this long after the shutdown began are killed. */
const SHUTDOWN_DEADLINE_MS = 15_000;

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  everReady: boolean;
  startedAt: number;
  restartDelayMs: number;
}

/**
 * Migrations and the first keys, once, before any worker starts: N workers starting together on an
 * empty SQLite file would otherwise race to create them.
 */
async function prepareDatabase(config: Readonly<Config>): Promise<void> {
  const database = await openDatabase(config.database);
  try {
    await migrateDatabase(database, config.paths.migrations);
    await runSerialized(database, KEYS_LOCK, () => ensureServerKeys(database.db));
  } finally {
    await database.db.destroy();
  }
}

/** Runs the primary until every worker has stopped; resolves with the exit code. */
export async function runPrimary(config: Readonly<Config>, log: Logger = pino({ level: config.logLevel })): Promise<number> {
  let prepared = true;
  try {
    await prepareDatabase(config);
  } catch (error) {
    // Worker 0 is started alone: it meets the same fault and reports it in the one start-up line
    // Sesame always prints; the others start only if it comes up after all.
    prepared = false;
    log.debug({ err: error }, 'preparing the database failed; worker 0 starts alone to report why');
  }

  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({
    index,
    ready: false,
    everReady: false,
    startedAt: 0,
    restartDelayMs: 1000,
  }));
  let stopping = false;
  let announced = false;
  let exitCode = 0;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  /**
   * A worker may be on its way out while still connected: a failed send then goes to the callback
   * (nothing to do, its exit is handled below) instead of an 'error' event that would end the primary.
   */
  const tell = (worker: Worker | undefined, message: PrimaryMessage) => {
    if (worker?.isConnected()) worker.send(message, () => undefined);
  };
  const broadcast = () => {
    if (stopping) return;
    const message: PrimaryMessage = { type: 'sesame:workers', ready: slots.filter((slot) => slot.ready).length, configured: slots.length };
    for (const slot of slots) tell(slot.worker, message);
  };

  const start = (slot: Slot) => {
    slot.startedAt = Date.now();
    slot.ready = false;
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(slot.index) });
    slot.worker = worker;
    worker.on('message', (message: WorkerReady) => {
      if (message?.type !== 'sesame:ready') return;
      slot.ready = true;
      slot.everReady = true;
      if (!prepared) {
        prepared = true;
        for (const other of slots) if (!other.worker) start(other);
      }
      broadcast();
      if (!announced && slots.every((each) => each.ready)) {
        announced = true;
        log.info(`Sesame is ready: ${slots.length} workers on port ${config.port}, issuer ${config.issuer}`);
      }
    });
  };

  const stopAll = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: stopping ${slots.filter((slot) => slot.worker).length} workers`);
    for (const slot of slots) tell(slot.worker, { type: 'sesame:shutdown' });
    setTimeout(() => {
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
    }, SHUTDOWN_DEADLINE_MS).unref();
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.find((each) => each.worker === worker);
    if (!slot) return;
    slot.worker = undefined;
    slot.ready = false;
    broadcast();
    if (stopping) {
      if (slots.every((each) => !each.worker)) finish(exitCode);
      return;
    }
    if (!slot.everReady) {
      // It never served: a bad configuration or an unusable database, which a new worker would meet
      // again. The worker printed the one-line reason; stop with its exit code.
      exitCode = code || 1;
      stopAll(`worker ${slot.index} could not start`);
      if (slots.every((each) => !each.worker)) finish(exitCode);
      return;
    }
    const quick = Date.now() - slot.startedAt < QUICK_DEATH_MS;
    slot.restartDelayMs = quick ? Math.min(slot.restartDelayMs * 2, MAX_RESTART_DELAY_MS) : 1000;
    log.error(
      { worker: slot.index, workerPid: worker.process.pid, code, signal },
      `worker ${slot.index} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting a replacement in ${slot.restartDelayMs / 1000} s`,
    );
    setTimeout(() => {
      if (!stopping) start(slot);
    }, slot.restartDelayMs);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        // A second signal: stop now.
        for (const slot of slots) slot.worker?.process.kill('SIGKILL');
        process.exit(1);
      }
      stopAll(`${signal} received`);
    });
  }

  for (const slot of prepared ? slots : slots.slice(0, 1)) start(slot);
  return finished;
}

/**
 * Worker side: tells the primary when it listens, keeps the primary's count of serving workers for
 * /health, and stops gracefully when asked (the same close as on a signal, run once).
 */
export function joinCluster(close: () => Promise<void>): void {
  process.send?.({ type: 'sesame:ready' } satisfies WorkerReady);
  process.on('message', (message: PrimaryMessage) => {
    if (message?.type === 'sesame:workers') workerCounts = { ready: message.ready, configured: message.configured };
    else if (message?.type === 'sesame:shutdown') void close();
  });
}

let workerCounts: { ready: number; configured: number } | undefined;

/** How many workers serve, when this process is one of WORKERS > 1 (for /health). */
export function clusterWorkers(): { ready: number; configured: number } | undefined {
  return workerCounts;
}

