import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import {
  AbortedTransactionError,
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import type { PostgresDatabaseConfig } from '../config/database.ts';
import { DatabaseUnavailableError } from './database.ts';
import { isLockFree, statementNameOf } from './prepared.ts';
import { runStatementsDirectly, stopRunningStatementsDirectly } from './direct-statements.ts';
import { isWrittenAhead } from './write-ahead.ts';
import { advisoryLockKey } from './serialize.ts';

export { advisoryLockKey };

/**
 * PostgreSQL connections: a pg Pool built from `Config.database` (kind 'postgres'), a start-up check
 * that turns every way of failing to connect into one clear line, a classifier that turns a runtime
 * driver error meaning "the database cannot serve" into a DatabaseUnavailableError (503, /health),
 * and session advisory locks so several instances migrate and purge one at a time.
 *
 * Types: int8 (BIGINT: the epoch-millisecond columns, COUNT(*)) is parsed into a JS number, as
 * better-sqlite3 returns it, so one set of row types serves both engines; every value Sesame keeps
 * in a BIGINT is far below 2^53. NUMERIC (SUM, AVG) stays a string, as pg returns it.
 */

export type PgPool = pg.Pool;
export type PgPoolClient = pg.PoolClient;

export interface PostgresPoolOptions {
  /**
   * Called when an idle connection in the pool fails (the server restarted, the network dropped).
   * The pool replaces it on the next checkout; without a listener pg's 'error' event would crash
   * the process. Default: ignored (the next query reports the fault).
   */
  onIdleError?: (error: Error) => void;
}

const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);

/** pg's own parsers, except int8 -> number (see above). Per pool, so no global state is changed. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** Where the server is, for messages: `db.example.com:5432/sesame` (never the password). */
export function describeServer(config: Pick<PostgresDatabaseConfig, 'host' | 'port' | 'database'>): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.host.startsWith('/') ? `socket ${config.host}` : `${host}:${config.port}`}/${config.database}`;
}

/** node:tls options for DATABASE_SSL (see PostgresSslMode); false for `off`. */
export function tlsOptions(config: PostgresDatabaseConfig): false | ConnectionOptions {
  const { mode, caFile } = config.ssl;
  if (mode === 'off') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new DatabaseUnavailableError(
        'TLS certificate',
        `cannot read the CA file ${caFile} named by DATABASE_SSL_CA or sslrootcert (${codeOf(error) || (error as Error).message}): point it at a readable PEM file`,
        { cause: error },
      );
    }
  }
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    // verify-ca: the chain must be trusted, whatever names the certificate carries.
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** Where and as whom to connect, TLS included: what every pg Pool or Client for `config` starts from. */
export function connectionOptions(config: PostgresDatabaseConfig): pg.ClientConfig {
  return { host: config.host, port: config.port, database: config.database, user: config.user, password: config.password, ssl: tlsOptions(config) };
}

/**
 * A pg Pool for `config`, not yet connected. Timeouts: connecting (and waiting for a free
 * connection) gives up after pool.connectionTimeoutMs; the server cancels a statement after
 * pool.statementTimeoutMs (57014), and the client stops waiting for an answer a little later in
 * case the server itself is gone; a transaction left idle for a minute is ended by the server.
 */
export function createPostgresPool(config: PostgresDatabaseConfig, options: PostgresPoolOptions = {}): pg.Pool {
  const statementTimeoutMs = config.pool.statementTimeoutMs;
  const pool = new pg.Pool({
    ...connectionOptions(config),
    application_name: config.applicationName,
    max: config.pool.max,
    idleTimeoutMillis: config.pool.idleTimeoutMs,
    connectionTimeoutMillis: config.pool.connectionTimeoutMs,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + 2_000 } : {}),
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    // Statements are written without waiting for the previous answer, so a transaction's BEGIN and its
    // writes sent ahead travel with the next statement (see PostgresFaultConnection): fewer round trips.
    pipeline: true,
    types,
  });
  pool.on('error', (error) => options.onIdleError?.(error));
  return pool;
}

/**
 * Opens the pool and proves it works before anything is served: one connection, one query, and
 * the server must accept writes (not a standby). Every failure is a DatabaseUnavailableError whose
 * message is the one start-up line (see describePostgresStartupFault); the pool is closed then.
 */
export async function openPostgres(config: PostgresDatabaseConfig, options: PostgresPoolOptions = {}): Promise<pg.Pool> {
  const pool = createPostgresPool(config, options);
  try {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ read_only: string }>("SELECT current_setting('transaction_read_only') AS read_only");
      if (rows[0]?.read_only === 'on') {
        throw new DatabaseUnavailableError(
          'read-only',
          `PostgreSQL at ${describeServer(config)} accepts no writes (a standby, or default_transaction_read_only is on): point DATABASE_URL at the primary`,
        );
      }
    } finally {
      client.release();
    }
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw describePostgresStartupFault(config, error);
  }
}

/** The driver's or the system's error code: a SQLSTATE such as 28P01, or ECONNREFUSED, ... */
export function codeOf(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    // Node's happy-eyeballs connect (localhost = ::1 and 127.0.0.1) fails with an AggregateError.
    const inner = (current as { errors?: unknown[] }).errors;
    current = Array.isArray(inner) && inner.length ? inner[0] : (current as { cause?: unknown }).cause;
  }
  return '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTCONN']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOENT']);
const TLS_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A runtime driver error that means "the database cannot serve this request" -> a
 * DatabaseUnavailableError with a short reason (for /health and the 503 log line); anything else (a
 * constraint violation, a bad statement, a serialization failure to retry) gives undefined.
 *
 * Reasons: `connection lost`, `unreachable`, `timeout`, `shut down`, `starting up`,
 * `too many connections`, `disk full`, `out of memory`, `locked`, `read-only`, `I/O error`,
 * `damaged`, `closed`, `cannot connect`.
 */
export function describePostgresFault(error: unknown): DatabaseUnavailableError | undefined {
  if (error instanceof DatabaseUnavailableError) return error;
  const code = codeOf(error);
  const detail = messageOf(error);
  const fault = (reason: string, message: string) => new DatabaseUnavailableError(reason, message, { cause: error });

  switch (code) {
    case '57P01':
      return fault('shut down', `PostgreSQL ended the connection: the server is shutting down (${detail})`);
    case '57P02':
      return fault('shut down', `PostgreSQL ended the connection after a crash of another server process (${detail})`);
    case '57P03':
      return fault('starting up', `PostgreSQL is not accepting connections yet (${detail}): it is starting up, shutting down or recovering`);
    case '57P04':
      return fault('cannot connect', `PostgreSQL ended the connection: the database was dropped (${detail})`);
    case '57014':
      return fault(
        'timeout',
        /statement timeout/i.test(detail)
          ? `a PostgreSQL statement ran past the statement timeout (${detail}): the server is overloaded or a lock is held; see DATABASE_STATEMENT_TIMEOUT_MS`
          : `PostgreSQL cancelled a statement (${detail})`,
      );
    case '55P03':
      return fault('locked', `a PostgreSQL lock was not granted in time (${detail})`);
    case '53300':
      return fault('too many connections', `PostgreSQL has no free connection (${detail}): raise max_connections or lower DATABASE_POOL_MAX across the instances`);
    case '53100':
      return fault('disk full', `PostgreSQL cannot write: its disk is full (${detail})`);
    case '53200':
      return fault('out of memory', `PostgreSQL is out of memory (${detail})`);
    case '25006':
      return fault('read-only', `PostgreSQL refused a write (${detail}): the server is a standby or read-only; point DATABASE_URL at the primary`);
    case '58030':
      return fault('I/O error', `PostgreSQL could not read or write its files (${detail})`);
    case 'XX001':
    case 'XX002':
      return fault('damaged', `PostgreSQL found damaged data (${detail}): restore from a backup`);
    case '28P01':
    case '28000':
    case '3D000':
    case '42501':
      // Refused a new connection while running (a password or grant changed, the database dropped).
      if (code !== '42501' || /database/i.test(detail)) return fault('cannot connect', `PostgreSQL refused a new connection (${detail})`);
  }
  if (code.startsWith('08')) return fault('connection lost', `the connection to PostgreSQL failed (${detail})`);
  if (code.startsWith('53')) return fault('too many connections', `PostgreSQL ran out of a resource (${detail})`);
  if (CONNECTION_LOST.has(code) || /^Connection terminated unexpectedly|not queryable|^Connection terminated$/.test(detail)) {
    if (/^Client was closed/.test(detail)) return fault('closed', `the PostgreSQL connection is closed (${detail})`);
    return fault('connection lost', `the connection to PostgreSQL was lost (${code || detail})`);
  }
  if (UNREACHABLE.has(code)) return fault('unreachable', `cannot reach PostgreSQL (${code}: ${detail})`);
  if (code === 'ETIMEDOUT' || /^timeout exceeded when trying to connect|connection timeout|^Query read timeout/.test(detail)) {
    return fault('timeout', `PostgreSQL did not answer in time (${detail})`);
  }
  if (/after calling end on the pool|Client was closed/.test(detail)) return fault('closed', `the PostgreSQL pool is closed (${detail})`);
  return undefined;
}

/**
 * Why the first connection failed -> the one start-up line: what went wrong, where (host, port,
 * database, user; never the password) and what to do.
 */
export function describePostgresStartupFault(config: PostgresDatabaseConfig, error: unknown): DatabaseUnavailableError {
  if (error instanceof DatabaseUnavailableError && error.reason !== 'connection lost') return error;
  const code = codeOf(error);
  const detail = messageOf(error);
  const where = `PostgreSQL at ${describeServer(config)}`;
  const user = config.user ?? process.env.PGUSER ?? process.env.USER ?? '(the operating-system user)';
  const fault = (reason: string, message: string) => new DatabaseUnavailableError(reason, message, { cause: error });
  const sslWord = config.ssl.mode;

  switch (code) {
    case 'ECONNREFUSED':
      return fault('unreachable', `cannot connect to ${where}: connection refused; start PostgreSQL, or fix the host and port in DATABASE_URL`);
    case 'ENOENT':
      return fault('unreachable', `cannot connect to ${where}: no PostgreSQL socket there; start PostgreSQL, or fix the host in DATABASE_URL`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fault('unreachable', `cannot connect to ${where}: the host name "${config.host}" does not resolve (${code}); fix the host in DATABASE_URL`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return fault('unreachable', `cannot connect to ${where}: the host cannot be reached (${code}); check the host in DATABASE_URL and the network or firewall`);
    case '28P01':
      return fault('bad password', `${where} refused the password for user "${user}": fix the password in DATABASE_URL (%-encode special characters)`);
    case '3D000':
      return fault(
        'missing database',
        `the database "${config.database}" does not exist on ${where}: create it (createdb -h ${config.host} -p ${config.port} -U ${user} ${config.database}) or fix its name in DATABASE_URL`,
      );
    case '42501':
      return fault('permission denied', `${where} does not let user "${user}" connect to the database "${config.database}" (${detail}): GRANT CONNECT ON DATABASE ${config.database} TO ${user}`);
    case '28000':
      if (/role .* does not exist/i.test(detail)) {
        return fault('cannot connect', `${where} has no user (role) "${user}": create it (createuser -h ${config.host} -p ${config.port} --pwprompt ${user}) or fix the user in DATABASE_URL`);
      }
      if (/no pg_hba\.conf entry/i.test(detail) && /no encryption|SSL off/i.test(detail)) {
        return fault('TLS required', `${where} accepts only encrypted connections from here: set DATABASE_SSL=verify-full (with DATABASE_SSL_CA) or DATABASE_SSL=require, or add ?sslmode=require to DATABASE_URL`);
      }
      return fault('cannot connect', `${where} does not let user "${user}" connect from this host (${detail}): allow it in pg_hba.conf, or fix the user in DATABASE_URL`);
    case '53300':
      return fault('too many connections', `${where} has no free connection (too many clients): raise max_connections on the server, or lower DATABASE_POOL_MAX on every instance`);
    case '57P03':
      return fault('starting up', `${where} is not accepting connections (starting up, shutting down or in recovery): try again in a moment`);
  }
  if (/does not support SSL/i.test(detail)) {
    return fault('TLS unavailable', `${where} does not offer TLS, but DATABASE_SSL (or sslmode) is ${sslWord}: enable ssl on the server, or set DATABASE_SSL=off on a trusted network`);
  }
  if (TLS_CERTIFICATE.has(code)) {
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `the certificate does not name "${config.host}": connect by a name it carries, or use DATABASE_SSL=verify-ca`
        : 'give the CA that signed it in DATABASE_SSL_CA (a PEM file)';
    return fault('TLS certificate', `${where} presented a TLS certificate Sesame does not trust (${code}): ${hint}`);
  }
  if (/client password must be a string|password authentication failed/i.test(detail)) {
    return fault('bad password', `${where} asks for a password for user "${user}" and DATABASE_URL has none: add it (postgres://user:password@host/db)`);
  }
  if (/timeout|terminated due to connection timeout/i.test(detail)) {
    return fault('timeout', `cannot connect to ${where}: no answer within ${config.pool.connectionTimeoutMs} ms; check the host and port in DATABASE_URL, the network, and that the server is not overloaded`);
  }
  const runtime = describePostgresFault(error);
  if (runtime) return fault(runtime.reason, `cannot use ${where}: ${runtime.message}`);
  return fault('cannot connect', `cannot use ${where}: ${detail}${code ? ` (${code})` : ''}`);
}

export interface AdvisoryLockOptions {
  /** Longest wait for another holder to let go (ms, default 60 s): then a DatabaseUnavailableError 'locked'. */
  timeoutMs?: number;
}

/**
 * Runs `fn` while this process holds the advisory lock `name`, waiting up to `timeoutMs` for another
 * session (another instance) to release it: migrations at start, so instances starting together on
 * an empty database migrate one after the other. `fn` gets the connection that holds the lock and
 * may use it (or the pool). A session lock, not a transaction one: `fn` may run several
 * transactions. If the connection dies, the server drops the lock with the session.
 */
export async function withAdvisoryLock<T>(
  pool: pg.Pool,
  name: string,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: AdvisoryLockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const key = advisoryLockKey(name);
  return usingClient(pool, async (client) => {
    // The wait is governed by its own timeout, not the pool's statement timeout, then restored.
    await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    try {
      await client.query({ text: 'SELECT pg_advisory_lock($1::bigint)', values: [key], query_timeout: timeoutMs + 5_000 } as pg.QueryConfig);
    } catch (error) {
      if (codeOf(error) === '57014') {
        throw new DatabaseUnavailableError(
          'locked',
          `another Sesame instance held the "${name}" lock for more than ${(timeoutMs / 1000).toFixed(0)} s: it may be stuck; check the other instances (pg_locks, locktype advisory)`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      await client.query('RESET statement_timeout');
    }
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  });
}

/**
 * Runs `fn` only if no other session holds the advisory lock `name` right now, else skips it: the
 * periodic purge of expired rows, which one instance at a time is enough to run.
 */
export async function tryAdvisoryLock<T>(
  pool: pg.Pool,
  name: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const key = advisoryLockKey(name);
  return usingClient(pool, async (client) => {
    const { rows } = await client.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS acquired', [key]);
    if (!rows[0]?.acquired) return { acquired: false } as const;
    try {
      return { acquired: true, value: await fn(client) } as const;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  });
}

/**
 * Checks a connection out for `fn` and gives it back; a connection on which anything failed is
 * destroyed rather than reused (it may hold a lock, an open transaction or a half-read answer).
 * Database faults leave as DatabaseUnavailableError.
 */
async function usingClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw describePostgresFault(error) ?? error;
  }
  // While checked out, a dropped connection is reported on the client (see PostgresFaultConnection).
  let lost: Error | undefined;
  const onError = (error: Error) => void (lost = error);
  client.on('error', onError);
  try {
    const value = await fn(client);
    client.removeListener('error', onError);
    client.release(lost ?? undefined);
    return value;
  } catch (error) {
    client.removeListener('error', onError);
    client.release(error instanceof Error ? error : true);
    throw describePostgresFault(error) ?? error;
  }
}

/** What the dialect needs of a pool: pg.Pool, or one connection lent for a while (see lendConnection). */
export interface PostgresConnectionSource {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

export interface PostgresDialectOptions {
  /**
   * Send the lock-free statements of every request (see SharedReads) on one connection of the pool,
   * pipelined, instead of checking a connection out for each. For the server's pool; off for a lent connection.
   */
  sharedReads?: boolean;
}

/**
 * Kysely's dialect over a pool from openPostgres: `new Kysely<Schema>({ dialect: createPostgresDialect(pool) })`.
 * Kysely's PostgreSQL compiler, adapter and introspector, on a driver of Sesame's own that turns a
 * fault of the database (see describePostgresFault) into a DatabaseUnavailableError wherever it
 * happens: waiting for a connection, in a statement, at BEGIN/COMMIT. A connection that failed that
 * way is destroyed rather than given back to the pool. Transactions run on one checked-out
 * connection; destroying the Kysely instance ends the pool.
 */
export function createPostgresDialect(pool: PostgresConnectionSource, options: PostgresDialectOptions = {}): Dialect {
  // prepared() statements outside a transaction skip Kysely's executor once the driver is in use (see direct-statements.ts).
  const adapter = new PostgresAdapter();
  return {
    createAdapter: () => adapter,
    createDriver: () => new PostgresFaultDriver(pool, options, adapter),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
  };
}

/**
 * `client` as a one-connection pool for a Kysely instance of its own: the migration run uses the
 * connection that holds the migration lock. Releasing and ending do nothing (the lender gives the
 * connection back), and statements get no client-side time limit (`queryTimeoutMs`, default none).
 */
export function lendConnection(client: pg.PoolClient, options: { queryTimeoutMs?: number } = {}): PostgresConnectionSource {
  // pg applies the pool's query_timeout unless a query names its own; 0 would mean "the pool's".
  const queryTimeout = options.queryTimeoutMs ?? 2 ** 31 - 1;
  const lent = Object.create(client) as pg.PoolClient;
  lent.query = ((config: pg.QueryConfig) => client.query({ ...config, query_timeout: queryTimeout } as pg.QueryConfig)) as pg.PoolClient['query'];
  lent.release = () => undefined;
  return { connect: async () => lent, end: async () => undefined };
}

const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');

/** pg's answer to one statement, as Kysely wants it. */
function resultOf<R>({ command, rowCount, rows }: pg.QueryResult): QueryResult<R> {
  if (command === 'ROLLBACK' || command === 'COMMIT') return { rows: [{ command }] as R[] };
  const changed = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return { ...(changed ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}), rows: (rows ?? []) as R[] };
}

/**
 * What the driver knows of a pooled pg client for its whole life: whether its connection failed.
 * pg emits 'error' on a checked-out client whose connection drops (besides failing its query), and the
 * pool listens only while the client is idle: without a listener a lost connection would crash the
 * process. Registered once per client (see clientState): a listener added and removed around every
 * statement was a measurable share of each query's CPU. While the client is idle the pool, which
 * listens too, drops it on such an error, so the flag then never matters.
 */
interface ClientState {
  broken: boolean;
}

const clientStates = new WeakMap<pg.PoolClient, ClientState>();
function clientState(client: pg.PoolClient): ClientState {
  let state = clientStates.get(client);
  if (!state) {
    const made: ClientState = (state = { broken: false });
    clientStates.set(client, made);
    client.on('error', () => {
      made.broken = true;
    });
  }
  return state;
}

/** A checked-out client, or a DatabaseUnavailableError when none can be had. */
async function checkOut(source: PostgresConnectionSource): Promise<pg.PoolClient> {
  try {
    return await source.connect();
  } catch (error) {
    throw describePostgresFault(error) ?? error;
  }
}

/** Runs `run` (statements on the client `state` belongs to); a database fault leaves as a DatabaseUnavailableError and marks the client broken. */
async function sendOn<T>(state: ClientState, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const fault = describePostgresFault(error);
    if (!fault) throw error;
    // A cancelled statement (57014, 55P03) leaves a sound connection; anything else may not.
    if (fault.reason !== 'timeout' || codeOf(error) !== '57014') state.broken = true;
    throw fault;
  }
}

/**
 * The lock-free statements of all requests outside transactions (prepared() SELECTs without a locking
 * clause, and the few writes declared lockFree: isLockFree; "reads" below) on one
 * connection the pool lends for good, pipelined: each read is written without waiting for the answers
 * before it, and all those issued in one turn of the event loop leave in one write (the socket is
 * corked until setImmediate). On this machine's kind a write that wakes the other side costs tens of
 * microseconds of CPU, more than PostgreSQL takes to run a point read, and a sign-in reads some fifteen
 * times outside transactions: under load many requests' reads now share a write, and neither side
 * wakes once per read. Checking a connection out of the pool per read costs its share too.
 *
 * Such a read never waits for a lock, so it cannot queue behind a statement that waits on a
 * transaction in progress; a slow one would hold up the reads behind it, which is why only fixed-shape
 * indexed reads (prepared()) come here. Reads that start while the connection is being made wait for
 * it; when it fails, every read on it fails with the fault (a 503, as a pooled connection's would)
 * and the next read makes a new one.
 */
class SharedReads {
  private current?: Promise<{ client: pg.PoolClient; state: ClientState }>;
  private ended = false;

  constructor(private readonly source: PostgresConnectionSource) {}

  async run(query: CompiledQuery): Promise<pg.QueryResult> {
    if (this.ended) throw new DatabaseUnavailableError('closed', 'the PostgreSQL pool is closed');
    const connecting = (this.current ??= this.connect());
    let held: { client: pg.PoolClient; state: ClientState };
    try {
      held = await connecting;
    } catch (error) {
      if (this.current === connecting) this.current = undefined;
      throw error;
    }
    const { client, state } = held;
    if (state.broken) {
      this.drop(connecting, held);
      return this.run(query);
    }
    this.corkForThisTurn(client);
    try {
      return await sendOn(state, () => client.query(pgQuery(query)));
    } finally {
      if (state.broken) this.drop(connecting, held);
    }
  }

  /** Gives the connection back (destroyed) at shutdown, before the pool ends. */
  end(): void {
    this.ended = true;
    const current = this.current;
    this.current = undefined;
    void current?.then(({ client }) => client.release(true)).catch(() => undefined);
  }

  private async connect(): Promise<{ client: pg.PoolClient; state: ClientState }> {
    const client = await checkOut(this.source);
    return { client, state: clientState(client) };
  }

  private drop(connecting: Promise<unknown>, held: { client: pg.PoolClient }): void {
    if (this.current !== connecting) return;
    this.current = undefined;
    held.client.release(true);
  }

  /** Clients whose socket is corked until the end of this turn (a replaced client's uncork still comes). */
  private readonly corked = new WeakSet<pg.PoolClient>();
  private corkForThisTurn(client: pg.PoolClient): void {
    const stream = client.connection?.stream;
    if (!stream || this.corked.has(client)) return;
    this.corked.add(client);
    stream.cork();
    setImmediate(() => {
      this.corked.delete(client);
      stream.uncork();
    });
  }
}

/**
 * One use of the database as Kysely sees it (from acquireConnection to releaseConnection). A pooled
 * connection is checked out only when a statement has to go out on one of its own: a plain read
 * outside a transaction goes to SharedReads instead, and a transaction takes one at its first
 * statement. Round trips are what a statement costs most here (each is a write, a wake-up of the
 * server and a read, on both sides), so a transaction sends none of its own: BEGIN waits to go out
 * with the first statement, and writes sent ahead (see write-ahead.ts) with the next statement or the
 * COMMIT, all in one write (the pool runs pg in pipeline mode, each statement with its own Sync, so a
 * failed one does not swallow the next).
 */
class PostgresFaultConnection implements DatabaseConnection {
  /** The pooled connection, once one was needed. */
  private client?: pg.PoolClient;
  private state?: ClientState;
  /** Between beginTransaction and its commit or rollback. */
  private inTransaction = false;
  /** Statements waiting to go out with the next one: the transaction's BEGIN until it is sent, writes sent ahead. */
  private held: CompiledQuery[] = [];
  /** The transaction's BEGIN is still held: nothing of it has reached the server. */
  private beginHeld = false;

  constructor(
    private readonly source: PostgresConnectionSource,
    private readonly shared: SharedReads | undefined,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction && isWrittenAhead(query)) {
      this.held.push(query);
      return { rows: [] };
    }
    if (this.shared && !this.inTransaction && !this.client && isLockFree(query)) return resultOf<R>(await this.shared.run(query));
    return this.send<R>(query);
  }

  begin(statement: CompiledQuery): void {
    this.inTransaction = true;
    this.beginHeld = true;
    this.held = [statement];
  }

  /** Ends the transaction; false when the server rolled it back instead (an earlier statement failed). */
  async commit(): Promise<boolean> {
    // Nothing was sent and nothing is held but the BEGIN: there is nothing to commit.
    if (this.beginHeld && this.held.length === 1) {
      this.end();
      return true;
    }
    try {
      const { rows } = await this.send<{ command?: string }>(COMMIT);
      return rows[0]?.command !== 'ROLLBACK';
    } finally {
      // Whatever happened, the server ended the transaction (each statement has its own Sync, so the
      // COMMIT ran even after a failed write), or the connection is broken: nothing is left to roll back.
      this.end();
    }
  }

  async rollback(): Promise<void> {
    // Held writes are dropped unsent; a transaction whose BEGIN never left has nothing to roll back.
    const sentSomething = this.inTransaction && !this.beginHeld;
    this.end();
    if (!sentSomething) return;
    try {
      await this.send(ROLLBACK);
    } catch (error) {
      if (this.state) this.state.broken = true;
      throw error;
    }
  }

  /** Gives the pooled connection back, if one was checked out: destroyed if it failed. */
  release(): void {
    const { client, state } = this;
    this.client = undefined;
    this.state = undefined;
    client?.release(state?.broken || undefined);
  }

  private end(): void {
    this.inTransaction = false;
    this.beginHeld = false;
    this.held = [];
  }

  /** `query` (with what is held before it, in one write); its result, or the first failure among them. */
  private async send<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const batch = this.held.length > 0 ? [...this.held, query] : [query];
    this.held = [];
    this.beginHeld = false;
    const client = (this.client ??= await checkOut(this.source));
    const state = (this.state ??= clientState(client));
    return resultOf<R>(await sendOn(state, () => (batch.length === 1 ? client.query(pgQuery(query)) : sendTogether(client, batch))));
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the PostgreSQL driver');
  }
}

/** `batch` written at once (in one write), answered in order: the last one's answer, or the first failure among them. */
async function sendTogether(client: pg.PoolClient, batch: CompiledQuery[]): Promise<pg.QueryResult> {
  const stream = client.connection?.stream;
  stream?.cork();
  let pending: Promise<pg.QueryResult>[];
  try {
    pending = batch.map((query) => client.query(pgQuery(query)));
  } finally {
    stream?.uncork();
  }
  const settled = await Promise.allSettled(pending);
  const failed = settled.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return (settled[settled.length - 1] as PromiseFulfilledResult<pg.QueryResult>).value;
}

/** pg's form of a compiled query; a fixed-shape one (src/db/prepared.ts) is prepared by the server once per connection. */
function pgQuery(query: CompiledQuery): pg.QueryConfig {
  const name = statementNameOf(query);
  return { text: query.sql, values: [...query.parameters], ...(name && { name }) };
}

class PostgresFaultDriver implements Driver {
  private ended = false;
  private readonly shared?: SharedReads;
  constructor(
    private readonly pool: PostgresConnectionSource,
    options: PostgresDialectOptions,
    /** The dialect's adapter, under which this driver runs prepared() statements directly (see direct-statements.ts). */
    private readonly adapter: DialectAdapter,
  ) {
    if (options.sharedReads) this.shared = new SharedReads(pool);
  }
  async init(): Promise<void> {
    runStatementsDirectly(this.adapter, (query) => this.runOutsideTransaction(query));
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.ended) throw new DatabaseUnavailableError('closed', 'the PostgreSQL pool is closed');
    return new PostgresFaultConnection(this.pool, this.shared);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const mode = [settings.isolationLevel && `isolation level ${settings.isolationLevel}`, settings.accessMode].filter(Boolean).join(' ');
    (connection as PostgresFaultConnection).begin(CompiledQuery.raw(mode ? `start transaction ${mode}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // PostgreSQL answers COMMIT with ROLLBACK when an earlier statement left the transaction aborted.
    if (!(await (connection as PostgresFaultConnection).commit())) throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PostgresFaultConnection).rollback();
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PostgresFaultConnection).release();
  }

  /** One statement outside any transaction, as Kysely runs it (acquire, run, release) without its executor. */
  async runOutsideTransaction<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const connection = (await this.acquireConnection()) as PostgresFaultConnection;
    try {
      return await connection.executeQuery<R>(query);
    } finally {
      connection.release();
    }
  }

  async destroy(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    stopRunningStatementsDirectly(this.adapter);
    this.shared?.end();
    await this.pool.end();
  }
}
