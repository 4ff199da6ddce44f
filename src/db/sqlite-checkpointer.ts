import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

export interface WalCheckpointOptions {
  /** The write-ahead log's size from which the thread takes over (bytes; default 4 MiB, SQLite's own mark). */
  startAtBytes?: number;
  /** How often the thread folds the log into the database file (ms; default 250). */
  everyMs?: number;
  /** How often the log's size is looked at until then (ms; default 1000). */
  watchEveryMs?: number;
  /** The log's size from which the thread starts it over (bytes; default 16 MiB): see THREAD. */
  restartAtBytes?: number;
  /** How long the thread waits for the write lock to start the log over before it tries again next time (ms; default 100). */
  restartWaitMs?: number;
}

/** SQLite's default wal_autocheckpoint, in pages: what the main connection goes back to if the thread fails. */
const INLINE_CHECKPOINT_PAGES = 1000;

/**
 * The thread's program. Eval'd (CommonJS), so the driver comes by absolute path: the bundle it would
 * otherwise resolve from is the main thread's. PASSIVE never waits for, nor blocks, a reader or a
 * writer; a checkpoint that finds another under way (SQLITE_BUSY) simply tries again next time.
 *
 * PASSIVE alone never lets the log start over under steady writes: SQLite reuses the log from its
 * start only when a checkpoint has copied every frame in it, and the main connection appends frames
 * while the thread copies. Measured before this: 2.3 GB of log after 40 s of sign-ins, each page read
 * slower as the log's index grew. So once the log is past restartAtBytes, the thread takes the write
 * lock, copies what is left and starts the log over (TRUNCATE: the file shrinks back to nothing).
 * SQLite's busy wait polls for a lock, and a main connection that writes on every turn frees it only
 * for an instant, so the thread first raises a flag shared with the main thread (`wanted`): while it
 * is up, the main connection opens no new write transaction, and its writes retry on a timer as when
 * another program holds the lock (its event loop never waits). The thread waits up to restartWaitMs
 * for the lock; without it in time, it was a PASSIVE checkpoint, and the next turn tries again.
 */
const THREAD = `
const { statSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const wanted = new Int32Array(workerData.wanted);
const logBytes = () => statSync(workerData.filename + '-wal', { throwIfNoEntry: false })?.size ?? 0;
const stop = () => { clearInterval(timer); if (db.open) db.close(); parentPort.close(); };
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    if (logBytes() < workerData.restartAtBytes) return;
    Atomics.store(wanted, 0, 1);
    db.pragma('busy_timeout = ' + workerData.restartWaitMs);
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      Atomics.store(wanted, 0, 0);
      db.pragma('busy_timeout = 0');
    }
  } catch (error) {
    if (String(error && error.code).startsWith('SQLITE_BUSY')) return;
    parentPort.postMessage({ failed: String(error && error.message) });
    stop();
  }
}, workerData.everyMs);
parentPort.on('message', stop);
`;

export interface WalCheckpointer {
  /** Whether the thread runs the checkpoints now (false before the log first grew, and after a failure). */
  readonly running: boolean;
  /** Whether the thread waits for the write lock to start the log over: open no write transaction now. */
  wantsWriteLock(): boolean;
  /** Stops the thread (before the main connection closes, which checkpoints one last time). */
  close(): Promise<void>;
}

/**
 * WAL checkpoints off the event loop. SQLite folds the write-ahead log into the database file inside
 * whichever COMMIT takes the log past 1000 pages: that commit then waits for the data file's fsync,
 * and with better-sqlite3 being synchronous the whole event loop waits with it (measured here: 223 µs
 * of blocked time per small insert on average, against 90 µs without). Once a database is busy enough
 * to fill a log (its size is looked at once a second), a worker thread with its own connection takes
 * the checkpoints over and the main connection stops running them. Small and idle databases (tests,
 * the CLI) never start the thread. If the thread fails, the main connection checkpoints as before.
 */
export function startWalCheckpointer(raw: BetterSqlite3.Database, filename: string, options: WalCheckpointOptions = {}): WalCheckpointer {
  const startAtBytes = options.startAtBytes ?? 4 * 1024 * 1024;
  let worker: Worker | undefined;
  /** Raised by the thread while it waits for the write lock (see THREAD); shared memory, read on every new batch. */
  const wanted = new Int32Array(new SharedArrayBuffer(4));
  let exited: Promise<void> = Promise.resolve();
  let closed = false;

  const checkpointInline = () => {
    if (raw.open) raw.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
  };

  function start(): void {
    const thread = new Worker(THREAD, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        filename,
        everyMs: options.everyMs ?? 250,
        restartAtBytes: options.restartAtBytes ?? 16 * 1024 * 1024,
        restartWaitMs: options.restartWaitMs ?? 100,
        wanted: wanted.buffer,
      },
    });
    worker = thread;
    thread.unref();
    raw.pragma('wal_autocheckpoint = 0');
    const failed = (reason: string) => {
      // A thread that stopped mid-checkpoint must not leave the main connection waiting for it.
      Atomics.store(wanted, 0, 0);
      if (closed || worker !== thread) return;
      worker = undefined;
      checkpointInline();
      process.emitWarning(`SQLite checkpoints of ${filename} are back on the main thread: ${reason}`);
    };
    thread.on('message', (message: { failed?: string }) => failed(message.failed ?? 'the checkpoint thread stopped'));
    thread.on('error', (error) => failed(error.message));
    exited = new Promise((resolve) => thread.once('exit', () => (failed('the checkpoint thread exited'), resolve())));
  }

  const watch = setInterval(() => {
    if (worker || closed) return;
    const size = statSync(`${filename}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (size < startAtBytes) return;
    clearInterval(watch);
    try {
      start();
    } catch (error) {
      checkpointInline();
      process.emitWarning(`SQLite checkpoints of ${filename} stay on the main thread: ${(error as Error).message}`);
    }
  }, options.watchEveryMs ?? 1000);
  watch.unref();

  return {
    get running() {
      return worker !== undefined;
    },
    wantsWriteLock: () => Atomics.load(wanted, 0) === 1,
    async close() {
      closed = true;
      clearInterval(watch);
      const thread = worker;
      worker = undefined;
      if (!thread) return;
      thread.postMessage('stop');
      const timeout = setTimeout(() => void thread.terminate(), 2000);
      await exited;
      clearTimeout(timeout);
      checkpointInline();
    },
  };
}
