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
}

/** SQLite's default wal_autocheckpoint, in pages: what the main connection goes back to if the thread fails. */
const INLINE_CHECKPOINT_PAGES = 1000;

/**
 * The thread's program. Eval'd (CommonJS), so the driver comes by absolute path: the bundle it would
 * otherwise resolve from is the main thread's. PASSIVE never waits for, nor blocks, a reader or a
 * writer; a checkpoint that finds another under way (SQLITE_BUSY) simply tries again next time.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const stop = () => { clearInterval(timer); if (db.open) db.close(); parentPort.close(); };
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
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
  let exited: Promise<void> = Promise.resolve();
  let closed = false;

  const checkpointInline = () => {
    if (raw.open) raw.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
  };

  function start(): void {
    const thread = new Worker(THREAD, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), filename, everyMs: options.everyMs ?? 250 },
    });
    worker = thread;
    thread.unref();
    raw.pragma('wal_autocheckpoint = 0');
    const failed = (reason: string) => {
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
