import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type KyselyConfig,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { DatabaseUnavailableError, type Database } from './database.ts';
import type { Schema } from './schema.ts';
import { runStatementsDirectly, stopRunningStatementsDirectly } from './direct-statements.ts';
import { startWalCheckpointer, type WalCheckpointer, type WalCheckpointOptions } from './sqlite-checkpointer.ts';

export interface SqliteOptions {
  /** How long a statement keeps retrying while another program holds the lock (ms, default 5000). */
  maxBusyWaitMs?: number;
  /** Kysely's query log (tests count statements with it). */
  log?: KyselyConfig['log'];
  /** When a thread takes the WAL checkpoints off the event loop (src/db/sqlite-checkpointer.ts); false: never. */
  walCheckpoints?: WalCheckpointOptions | false;
}

/** Opens (creating when missing) a SQLite database file; a file it cannot use throws DatabaseUnavailableError. */
export function openSqlite(filename: string, options: SqliteOptions = {}): Database {
  const engine = new SqliteEngine(filename, options);
  return new Kysely<Schema>({ dialect: new SqliteEngineDialect(engine, Boolean(options.log)), ...(options.log && { log: options.log }) });
}

/**
 * One better-sqlite3 handle and what Kysely's own SqliteDialect lacks:
 *
 * - Prepared statements are cached by SQL text (Kysely prepares on every call otherwise).
 * - better-sqlite3 is synchronous, so an async transaction could let another request's statements
 *   run inside it between two awaits. A transaction holds a gate from BEGIN to COMMIT/ROLLBACK, and
 *   statements from outside wait for it, so a rollback only ever undoes its own writes. Statements
 *   outside a transaction need no lock among themselves: each runs whole within one tick.
 * - Writes are group-committed (see Batch): the writes and transactions of one turn of the event loop
 *   share one SQLite transaction and one COMMIT, and each caller's promise settles once that COMMIT has
 *   run, so nobody is answered before what they wrote is in the write-ahead log.
 * - SQLite's own busy wait would block the event loop (every request, /health included) for as long
 *   as another program holds the lock, so it is off while running: a statement that finds the
 *   database locked is retried with a growing pause on a timer, and after `maxBusyWaitMs` fails with
 *   a DatabaseUnavailableError. Faults of the file itself (read-only, full, damaged, I/O errors) also
 *   surface as DatabaseUnavailableError, with a message that names the file and what to do.
 */
export class SqliteEngine {
  readonly raw: BetterSqlite3.Database;
  readonly filename: string;
  private readonly maxBusyWaitMs: number;
  /** Open from BEGIN to COMMIT/ROLLBACK of a transaction; `openGate` opens it. */
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;
  /** The open transaction's batch, and whether it is a savepoint in it (see begin); undefined outside one. */
  private transaction: { batch: Batch; savepoint: boolean } | undefined;
  private get inTransaction(): boolean {
    return this.transaction !== undefined;
  }
  /** The writes of this turn, not committed yet (see Batch). */
  private batch: Batch | undefined;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** Per cached statement: whether it is a plain INSERT, UPDATE or DELETE, which may join a batch. */
  private readonly batchable = new WeakMap<BetterSqlite3.Statement, boolean>();
  private readonly checkpointer: WalCheckpointer | undefined;

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
    if (filename !== ':memory:' && options.walCheckpoints !== false) this.checkpointer = startWalCheckpointer(raw, filename, options.walCheckpoints);
  }

  /** Whether a thread runs the WAL checkpoints now (see src/db/sqlite-checkpointer.ts). */
  get checkpointsOffThread(): boolean {
    return this.checkpointer?.running ?? false;
  }

  /** The cached statement for `sql`; undefined for a script (several statements, or none), which `exec` runs. */
  prepare(sql: string, parameterless: boolean): BetterSqlite3.Statement | undefined {
    let statement = this.statements.get(sql);
    if (statement) return statement;
    try {
      statement = this.raw.prepare(sql);
    } catch (error) {
      if (parameterless && error instanceof RangeError && /more than one statement|no statements/.test(error.message)) return undefined;
      throw error;
    }
    // The set of SQL texts is fixed by the code; the cap only guards against a caller building SQL from data.
    if (this.statements.size >= 1000) this.statements.clear();
    this.statements.set(sql, statement);
    return statement;
  }

  /**
   * Runs one compiled query now, synchronously; errors are SQLite's own. A raw query without
   * parameters that holds several statements runs as a script (better-sqlite3's exec), as
   * PostgreSQL's simple query protocol runs one: the migration runner relies on that on both engines.
   */
  execute({ sql, parameters }: CompiledQuery): QueryResult<unknown> {
    return this.executePrepared(this.prepare(sql, parameters.length === 0), sql, parameters);
  }

  /** execute(), for a statement already prepared (undefined: a script). */
  private executePrepared(statement: BetterSqlite3.Statement | undefined, sql: string, parameters: readonly unknown[]): QueryResult<unknown> {
    if (!statement) {
      this.raw.exec(sql);
      return { rows: [] };
    }
    if (statement.reader) return { rows: statement.all(parameters) as unknown[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  /** A statement inside the open transaction: runs at once; a fault leaves as a DatabaseUnavailableError. */
  runInTransaction(query: CompiledQuery): Promise<QueryResult<unknown>> {
    try {
      return Promise.resolve(this.runInBatch(() => this.execute(query)));
    } catch (error) {
      return Promise.reject(this.fault(error));
    }
  }

  /**
   * A statement from outside any transaction: waits out a running one, then runs with no await in
   * between. A read answers at once (in this process it sees the batch's writes, which no one outside
   * has been told of yet); a write joins the batch and answers once the batch has committed.
   */
  runOutsideTransaction(query: CompiledQuery): Promise<QueryResult<unknown>> {
    // The common case, no transaction open and no lock held elsewhere: run at once.
    if (!this.inTransaction) {
      try {
        return this.runOutside(query);
      } catch (error) {
        if (!isBusy(error)) return Promise.reject(this.fault(error));
      }
    }
    return this.retryWhileBusy(() => this.runOutside(query));
  }

  /** Runs `query` now, outside any transaction (see runOutsideTransaction); throws what SQLite throws. */
  private runOutside({ sql, parameters }: CompiledQuery): Promise<QueryResult<unknown>> {
    const statement = this.prepare(sql, parameters.length === 0);
    if (statement && this.isBatchable(statement)) {
      const batch = this.joinBatch();
      const result = this.runInBatch(() => this.executePrepared(statement, sql, parameters));
      return batch.committed.then(() => result);
    }
    // Anything else that writes (a script, DDL, VACUUM, a pragma) cannot run inside a transaction, or
    // should not wait for one: what the batch holds is committed first.
    if (!statement || !statement.readonly) this.commitBatch();
    return Promise.resolve(this.executePrepared(statement, sql, parameters));
  }

  /** A plain INSERT, UPDATE or DELETE (RETURNING or not): the statements a batch takes. */
  private isBatchable(statement: BetterSqlite3.Statement): boolean {
    let known = this.batchable.get(statement);
    if (known === undefined) {
      known = !statement.readonly && /^\s*(insert|update|delete|replace)\b/i.test(statement.source);
      this.batchable.set(statement, known);
    }
    return known;
  }

  /**
   * The open batch, or a new one (BEGIN IMMEDIATE: it may find the database busy, and throws then). A
   * batch open for longer than MAX_BATCH_MS is committed first, so that the write lock other processes
   * wait for (WORKERS=N, the CLI) is never held much longer than a transaction of its own would hold it.
   */
  private joinBatch(): Batch {
    if (this.batch && performance.now() - this.batch.openedAt > MAX_BATCH_MS) this.commitBatch();
    if (this.batch) return this.batch;
    if (this.checkpointer?.wantsWriteLock()) throw checkpointWaiting();
    this.prepare('BEGIN IMMEDIATE', true)!.run();
    let settle!: (error?: unknown) => void;
    const committed = new Promise<void>((resolve, reject) => (settle = (error) => (error === undefined ? resolve() : reject(error))));
    // Every writer awaits it; one whose transaction rolled back does not, and must not be told.
    committed.catch(() => undefined);
    const batch: Batch = { committed, settle, openedAt: performance.now(), due: false };
    this.batch = batch;
    setImmediate(() => {
      if (this.batch !== batch) return;
      // A transaction spans this turn (it awaited something else): the batch commits when it ends.
      if (this.inTransaction) batch.due = true;
      else this.commitBatch();
    });
    return batch;
  }

  /** Runs a statement inside the batch; a fault that made SQLite roll the whole transaction back loses the batch. */
  private runInBatch<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (this.batch && !this.raw.inTransaction) this.endBatch(this.fault(error));
      throw error;
    }
  }

  /** Commits the open batch now; its writers get the fault if it fails. */
  private commitBatch(): void {
    if (!this.batch) return;
    try {
      this.prepare('COMMIT', true)!.run();
      this.endBatch();
    } catch (error) {
      try {
        if (this.raw.inTransaction) this.prepare('ROLLBACK', true)!.run();
      } catch {
        // the COMMIT's error is the one worth reporting
      }
      this.endBatch(this.fault(error));
    }
  }

  private endBatch(error?: unknown): void {
    const batch = this.batch!;
    this.batch = undefined;
    batch.settle(error);
  }

  /** Runs `attempt` (after any open transaction) until it stops finding the database locked, pausing on a timer in between. */
  private async retryWhileBusy<T>(attempt: () => T | Promise<T>): Promise<T> {
    const started = Date.now();
    let pause = 2;
    for (;;) {
      while (this.inTransaction) await this.gate;
      try {
        return attempt();
      } catch (error) {
        const waited = Date.now() - started;
        if (!isBusy(error) || waited >= this.maxBusyWaitMs) throw this.fault(error, waited);
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, this.maxBusyWaitMs - waited)));
        pause = Math.min(pause * 2, 100);
      }
    }
  }

  /**
   * A transaction joins the batch: as a savepoint when the batch already holds writes (so that it can
   * roll back alone), as the batch itself when it opens it (nothing else can join while it is open,
   * so a rollback of the whole batch undoes only it, and the savepoint's two statements are saved).
   * BEGIN IMMEDIATE (when it opens the batch) takes the write lock up front, so it is the one
   * statement of a transaction that can find the database busy; the gate is taken in the same tick,
   * only once that succeeded, so a transaction waiting for another program does not hold up this
   * process's reads.
   */
  async begin(): Promise<void> {
    await this.retryWhileBusy(() => {
      const before = this.batch;
      const batch = this.joinBatch();
      // Joined a batch that already holds writes (rather than opened one): a savepoint of its own.
      const joined = batch === before;
      if (joined) this.prepare('SAVEPOINT request', true)!.run();
      this.transaction = { batch, savepoint: joined };
      this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    });
  }

  private endTransaction(): void {
    this.transaction = undefined;
    this.openGate();
    if (this.batch?.due) this.commitBatch();
  }

  /**
   * Ends the transaction into its batch and returns the batch's commit, which the transaction's caller
   * awaits. A failed RELEASE leaves the transaction open: Kysely then calls rollback, which ends it.
   */
  commit(): Promise<void> {
    const { batch, savepoint } = this.transaction!;
    if (savepoint) {
      try {
        this.runInBatch(() => this.prepare('RELEASE request', true)!.run());
      } catch (error) {
        throw this.fault(error);
      }
    }
    this.endTransaction();
    return batch.committed;
  }

  /** Undoes the transaction, and only it: the rest of the batch stays. */
  rollback(): void {
    const { batch, savepoint } = this.transaction!;
    try {
      if (this.batch === batch && this.raw.inTransaction) {
        if (savepoint) {
          this.prepare('ROLLBACK TO request', true)!.run();
          this.prepare('RELEASE request', true)!.run();
        } else {
          // The batch is this transaction alone.
          this.prepare('ROLLBACK', true)!.run();
          this.endBatch();
        }
      }
    } catch (error) {
      // SQLite rolls back on its own when it cannot, and then the batch is lost with it
      if (this.batch === batch && !this.raw.inTransaction) this.endBatch(this.fault(error));
    } finally {
      this.endTransaction();
    }
  }

  /** What a caller is given for `error`: a DatabaseUnavailableError when the file is at fault, else the error itself. */
  private fault(error: unknown, waitedMs?: number): unknown {
    return describeFault(this.filename, error, waitedMs) ?? error;
  }

  /** Closes the file once any transaction has ended (a WAL checkpoint folds the log into it). */
  async close(): Promise<void> {
    while (this.inTransaction) await this.gate;
    this.commitBatch();
    await this.checkpointer?.close();
    if (this.raw.open) this.raw.close();
  }
}

/** How long a batch may stay open before a new write commits it first (ms; see joinBatch). */
const MAX_BATCH_MS = 2;

/**
 * Group commit. Every COMMIT writes each page the transaction changed to the write-ahead log, a full
 * page each time; a sign-in makes several small transactions, and under load most of their pages (the
 * ends of the tables and of their time indexes) are the same ones other requests change a moment
 * later. So the first write of a turn of the event loop opens one SQLite transaction (BEGIN IMMEDIATE),
 * every write and every transaction of that turn runs inside it (a transaction as a savepoint, so that
 * it rolls back alone), and the batch commits once, when the turn ends (setImmediate), or when the
 * transaction that spans the turn's end ends. Each writer's promise settles with that COMMIT: what it
 * wrote is durable (WAL, synchronous=NORMAL) before anyone is told, as with a commit of its own.
 *
 * What the batch changes: a COMMIT that fails (a full disk, an I/O error) fails every write of the
 * turn, as the fault would have failed them one by one; and this process's reads see the batch's
 * writes a moment before they are committed, when no one outside has been answered about them yet.
 */
interface Batch {
  /** Settles when the batch has committed, or with the fault that lost it. */
  readonly committed: Promise<void>;
  settle(error?: unknown): void;
  readonly openedAt: number;
  /** The turn ended while a transaction was open: the batch commits when that transaction ends. */
  due: boolean;
}

/** A Kysely connection: the one inside a transaction runs its statements at once, any other waits for the gate. */
class SqliteEngineConnection implements DatabaseConnection {
  transactionOpen = false;
  constructor(private readonly engine: SqliteEngine) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = this.transactionOpen ? this.engine.runInTransaction(query) : this.engine.runOutsideTransaction(query);
    return result as Promise<QueryResult<R>>;
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the SQLite engine');
  }
}

/**
 * Kysely's driver over a SqliteEngine. Every acquire gets a connection object of its own (no lock:
 * statements outside a transaction need none; idle ones are reused), and the transaction methods
 * hand over to the engine's gate, which is what keeps other statements out of a transaction.
 */
class SqliteEngineDriver implements Driver {
  private readonly idle: SqliteEngineConnection[] = [];
  constructor(
    private readonly engine: SqliteEngine,
    /** The adapter under which prepared() statements run on the engine directly; none with a query log. */
    private readonly direct?: DialectAdapter,
  ) {}
  async init(): Promise<void> {
    if (this.direct) runStatementsDirectly(this.direct, (query) => this.engine.runOutsideTransaction(query));
  }
  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(this.idle.pop() ?? new SqliteEngineConnection(this.engine));
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    if (connection instanceof SqliteEngineConnection && !connection.transactionOpen) this.idle.push(connection);
    return Promise.resolve();
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.engine.begin();
    (connection as SqliteEngineConnection).transactionOpen = true;
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const committed = this.engine.commit();
    (connection as SqliteEngineConnection).transactionOpen = false;
    // Kysely calls rollback when this fails: the transaction is no longer open then, and the batch
    // that failed took it back already.
    await committed;
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const open = (connection as SqliteEngineConnection).transactionOpen;
    (connection as SqliteEngineConnection).transactionOpen = false;
    if (open) this.engine.rollback();
  }
  destroy(): Promise<void> {
    if (this.direct) stopRunningStatementsDirectly(this.direct);
    return this.engine.close();
  }
}

/** Kysely's SQLite dialect (adapter, compiler, introspector) on a SqliteEngine instead of its own driver. */
class SqliteEngineDialect implements Dialect {
  constructor(
    private readonly engine: SqliteEngine,
    private readonly logged = false,
  ) {}
  private readonly adapter = new SqliteAdapter();
  createAdapter(): DialectAdapter {
    return this.adapter;
  }
  createDriver(): Driver {
    // prepared() statements outside a transaction skip Kysely's executor once the driver is in use
    // (see direct-statements.ts); not with a query log, which sees only what goes through Kysely.
    return new SqliteEngineDriver(this.engine, this.logged ? undefined : this.adapter);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
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

/** The checkpoint thread waits for the write lock (src/db/sqlite-checkpointer.ts): busy, as while another program holds it. */
const checkpointWaiting = () =>
  Object.assign(new Error('the WAL checkpoint thread is starting the write-ahead log over'), { code: 'SQLITE_BUSY_CHECKPOINT' });

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
