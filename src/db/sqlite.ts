import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DatabaseUnavailableError, type Database, type Queryable, type RunResult, type SqlValue } from './database.ts';

export interface SqliteOptions {
  /** How long a statement keeps retrying while another program holds the lock (ms, default 5000). */
  maxBusyWaitMs?: number;
}

/**
 * better-sqlite3 is synchronous, so an async transaction could let another request's statements
 * run inside it between two awaits. One lock serialises transactions, and statements outside a
 * transaction wait for it, so a rollback only ever undoes its own writes.
 *
 * SQLite's own busy wait would block the event loop (every request, /health included) for as long
 * as another program holds the lock, so it is off while running: a statement that finds the
 * database locked is retried with a growing pause on a timer, and after `maxBusyWaitMs` fails with
 * a DatabaseUnavailableError. Faults of the file itself (read-only, full, damaged, I/O errors) also
 * surface as DatabaseUnavailableError, with a message that names the file and what to do.
 */
export class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const;
  readonly raw: BetterSqlite3.Database;
  readonly filename: string;
  private readonly maxBusyWaitMs: number;
  private lock: Promise<void> = Promise.resolve();
  private locked = false;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(filename: string, options: SqliteOptions = {}) {
    this.filename = filename;
    this.maxBusyWaitMs = options.maxBusyWaitMs ?? 5000;
    let raw: BetterSqlite3.Database | undefined;
    try {
      if (filename !== ':memory:') makeParentDirectory(filename);
      raw = new BetterSqlite3(filename);
      // Opening happens before anything is served, so waiting in place for a lock is harmless here.
      raw.pragma('busy_timeout = 5000');
      raw.pragma('journal_mode = WAL');
      raw.pragma('foreign_keys = ON');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('busy_timeout = 0');
    } catch (error) {
      try {
        raw?.close();
      } catch {
        // the open error is the one worth reporting
      }
      throw describeFault(filename, error) ?? error;
    }
    this.raw = raw;
  }

  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.raw.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `op` now; a database fault leaves as a DatabaseUnavailableError. */
  private guard<T>(op: () => T): T {
    try {
      return op();
    } catch (error) {
      throw describeFault(this.filename, error) ?? error;
    }
  }

  private readonly direct: Queryable = {
    get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      this.guard(() => this.prepare(sql).get(...params) as T | undefined),
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => this.guard(() => this.prepare(sql).all(...params) as T[]),
    run: async (sql: string, params: readonly SqlValue[] = []): Promise<RunResult> =>
      this.guard(() => ({ changes: this.prepare(sql).run(...params).changes })),
  };

  /** Runs `attempt` until it stops finding the database locked, pausing on a timer in between. */
  private async retryWhileBusy<T>(attempt: () => Promise<T>): Promise<T> {
    const started = Date.now();
    let pause = 2;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const waited = Date.now() - started;
        if (!isBusy(error) || waited >= this.maxBusyWaitMs) throw describeFault(this.filename, error, waited) ?? error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, this.maxBusyWaitMs - waited)));
        pause = Math.min(pause * 2, 100);
      }
    }
  }

  /** Waits out a running transaction, then runs `op` with no await in between. */
  private outsideTransaction<T>(op: () => T): Promise<T> {
    return this.retryWhileBusy(async () => {
      while (this.locked) await this.lock;
      return op();
    });
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.outsideTransaction(() => this.prepare(sql).get(...params) as T | undefined);
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.outsideTransaction(() => this.prepare(sql).all(...params) as T[]);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    return this.outsideTransaction(() => ({ changes: this.prepare(sql).run(...params).changes }));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // BEGIN IMMEDIATE takes the write lock up front, so it is the one statement that can find the
    // database busy; the in-process lock is taken in the same tick, only once BEGIN succeeded, so
    // a transaction waiting for another program does not hold up this process's reads.
    const release = await this.retryWhileBusy(async () => {
      while (this.locked) await this.lock;
      this.raw.exec('BEGIN IMMEDIATE');
      let resolve!: () => void;
      this.locked = true;
      this.lock = new Promise<void>((done) => (resolve = done));
      return () => {
        this.locked = false;
        resolve();
      };
    });
    try {
      const result = await fn(this.direct);
      this.raw.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
      } catch {
        // SQLite rolls back on its own when it cannot; the first error is the one to report
      }
      throw describeFault(this.filename, error) ?? error;
    } finally {
      release();
    }
  }

  exec(sql: string): Promise<void> {
    return this.outsideTransaction(() => void this.raw.exec(sql));
  }

  close(): Promise<void> {
    return this.outsideTransaction(() => {
      if (this.raw.open) this.raw.close();
    });
  }
}

/** Accepts `sqlite:./path.db`, `sqlite:///abs/path.db`, `sqlite::memory:`. */
export function sqlitePathFromUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported DATABASE_URL "${url}"`);
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  return rest;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function isBusy(error: unknown): boolean {
  const code = errorCode(error);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns on some paths (under
 * /proc it loops forever on ENOENT), and a failure here should name the part of the path in the way.
 */
function makeParentDirectory(filename: string): void {
  const missing: string[] = [];
  let existing = dirname(filename);
  while (!existsSync(existing) && dirname(existing) !== existing) {
    missing.unshift(existing);
    existing = dirname(existing);
  }
  if (!statSync(existing).isDirectory()) {
    throw new DatabaseUnavailableError(
      'cannot open',
      `cannot create the database ${filename}: ${existing} is a file, not a directory; point DATABASE_URL at a path inside a directory`,
    );
  }
  for (const directory of missing) {
    try {
      mkdirSync(directory);
    } catch (error) {
      throw new DatabaseUnavailableError(
        'cannot open',
        `cannot create the directory ${directory} for the database ${filename} (${errorCode(error) || (error as Error).message}): create it with write access for the user that runs Sesame, or point DATABASE_URL elsewhere`,
        { cause: error },
      );
    }
  }
}

/**
 * Turns a driver error that means "the database cannot serve" into a DatabaseUnavailableError that
 * names the file and what to do; anything else (a constraint, a bad statement) is not a fault of
 * the database and gives undefined.
 */
export function describeFault(filename: string, error: unknown, waitedMs?: number): DatabaseUnavailableError | undefined {
  if (error instanceof DatabaseUnavailableError) return error;
  const code = errorCode(error);
  const detail = (error as Error | null)?.message ?? String(error);
  const file = filename === ':memory:' ? 'the in-memory database' : `the database ${filename}`;
  const fault = (reason: string, message: string) => new DatabaseUnavailableError(reason, message, { cause: error });
  if (error instanceof TypeError && /connection is not open/.test(detail)) return fault('closed', `${file} is closed`);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    const waited = waitedMs === undefined ? '' : ` for ${(waitedMs / 1000).toFixed(1)} s`;
    return fault(
      'locked',
      `${file} is locked by another program${waited}: stop whatever holds it (an sqlite3 shell, a backup tool, another server) or try again`,
    );
  }
  if (code === 'SQLITE_READONLY_DIRECTORY' || code === 'SQLITE_READONLY_CANTINIT') {
    return fault(
      'read-only',
      `${file} cannot be written: its directory ${dirname(filename)} is read-only, and SQLite keeps ${basename(filename)}-wal and ${basename(filename)}-shm there; make the directory writable for the user that runs Sesame`,
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return fault('read-only', `${file} is read-only (${detail}): give the user that runs Sesame write access to the file and its directory`);
  }
  if (code === 'SQLITE_FULL') return fault('disk full', `${file} cannot grow: the disk is full; free space on the disk that holds ${dirname(filename)}`);
  if (code.startsWith('SQLITE_IOERR')) {
    return fault('I/O error', `${file} could not be read or written (${detail}, ${code}): check the disk, its free space and the file's permissions`);
  }
  if (code === 'SQLITE_NOTADB') {
    return fault(
      'not a database',
      `${filename} is not a SQLite database (${detail}): point DATABASE_URL at Sesame's database file, or move this file away to start a new one`,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return fault('damaged', `${file} is damaged (${detail}): restore it from a backup, or move it away to start a new one`);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_PROTOCOL' || code === 'SQLITE_NOLFS') {
    return fault('cannot open', cannotOpen(filename, detail));
  }
  return undefined;
}

function cannotOpen(filename: string, detail: string): string {
  if (filename === ':memory:') return `cannot open the in-memory database (${detail})`;
  const directory = dirname(filename);
  try {
    if (statSync(filename).isDirectory()) {
      return `cannot open the database ${filename}: it is a directory; point DATABASE_URL at a file, e.g. sqlite:${join(filename, 'sesame.db')}`;
    }
  } catch {
    try {
      accessSync(directory, constants.W_OK);
    } catch {
      return `cannot create the database ${filename}: the directory ${directory} is not writable; make it writable for the user that runs Sesame, or point DATABASE_URL elsewhere`;
    }
  }
  return `cannot open the database ${filename} (${detail}): DATABASE_URL must name a regular file on a writable disk, which the user that runs Sesame may read and write, in a directory it may write (SQLite keeps ${basename(filename)}-wal and ${basename(filename)}-shm beside it)`;
}
