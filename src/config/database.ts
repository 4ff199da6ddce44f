import { resolve } from 'node:path';
import { quoteInput } from '../lib/validation.ts';

/**
 * Which database Sesame uses, from DATABASE_URL and the DATABASE_* variables:
 * - `sqlite:./data/sesame.db` (the default): one SQLite file;
 * - `postgres://user:password@host:5432/database` (or `postgresql://`): a PostgreSQL server, shared by
 *   every Sesame instance that names it.
 */
export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

export interface SqliteDatabaseConfig {
  kind: 'sqlite';
  /** An absolute path, or `:memory:`. */
  file: string;
}

/**
 * TLS to the server, as libpq's sslmode names it:
 * - `off`: plain TCP (libpq's disable);
 * - `require`: encrypted, the server's certificate not checked (protects against eavesdropping only);
 * - `verify-ca`: the certificate must chain to a trusted CA (caFile, else Node's bundled CAs);
 * - `verify-full`: verify-ca plus the certificate must name the host in DATABASE_URL.
 */
export type PostgresSslMode = 'off' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresDatabaseConfig {
  kind: 'postgres';
  /** DATABASE_URL as given (it holds the password: never print it; use `safeUrl`). */
  url: string;
  /** The URL with the password replaced by `***`: for log lines and error messages. */
  safeUrl: string;
  /** A host name or address, or a Unix socket directory (starts with /). */
  host: string;
  port: number;
  database: string;
  /** Undefined: node-postgres falls back to PGUSER, then the operating-system user. */
  user?: string;
  password?: string;
  applicationName: string;
  pool: {
    /** Most connections one instance opens (DATABASE_POOL_MAX / pool_max). */
    max: number;
    /** An unused connection is closed after this long. */
    idleTimeoutMs: number;
    /** Longest wait for a connection, new or from the pool (DATABASE_CONNECT_TIMEOUT_MS / connect_timeout). */
    connectionTimeoutMs: number;
    /** The server cancels a statement that runs longer (DATABASE_STATEMENT_TIMEOUT_MS); 0 = never. */
    statementTimeoutMs: number;
  };
  ssl: { mode: PostgresSslMode; /** PEM file of the CA(s) to trust (DATABASE_SSL_CA / sslrootcert). */ caFile?: string };
}

export const POSTGRES_DEFAULTS = {
  port: 5432,
  poolMax: 10,
  idleTimeoutMs: 30_000,
  connectionTimeoutMs: 5_000,
  statementTimeoutMs: 5_000,
  applicationName: 'sesame',
} as const;

const POSTGRES_EXAMPLE = 'postgres://sesame:secret@db.example.com:5432/sesame';

/** What the URL itself says; the DATABASE_* variables are merged in by `databaseConfig`. */
export type ParsedDatabaseUrl =
  | { kind: 'sqlite'; path: string }
  | (Pick<PostgresDatabaseConfig, 'kind' | 'url' | 'safeUrl' | 'host' | 'port' | 'database' | 'user' | 'password'> & {
      query: { sslmode?: PostgresSslMode; sslrootcert?: string; poolMax?: number; connectTimeoutMs?: number; applicationName?: string };
    });

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** `postgres://user:***@host/db`: the URL with any password hidden, for messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^@/?#]*@/i, '$1:***@');
}

const quoteUrl = (url: string) => quoteInput(redactDatabaseUrl(url), 200);

const SSL_MODES: Record<string, PostgresSslMode> = {
  disable: 'off',
  off: 'off',
  require: 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
};

/** libpq's sslmode words, and `off` for DATABASE_SSL; prefer/allow are refused (see below). */
function sslModeOf(value: string): PostgresSslMode | undefined {
  return SSL_MODES[value.trim().toLowerCase()];
}

const SSL_WORDS = 'disable, require, verify-ca or verify-full';
const QUERY_NAMES = ['sslmode', 'sslrootcert', 'pool_max', 'connect_timeout', 'application_name'];

/**
 * Parses DATABASE_URL; `problems` gets one line per thing wrong with it (never the password). A
 * scheme other than sqlite: and postgres(ql):// gives the one line the config has always given.
 */
export function parseDatabaseUrl(url: string, problems: string[]): ParsedDatabaseUrl | undefined {
  if (/^sqlite:.+/.test(url)) return { kind: 'sqlite', path: sqlitePath(url) };
  if (!isPostgresUrl(url)) {
    problems.push(`DATABASE_URL must look like sqlite:./data/sesame.db, got ${quoteUrl(url)}`);
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(`DATABASE_URL is not a valid PostgreSQL URL (check the port and any characters that need %-encoding), such as ${POSTGRES_EXAMPLE}, got ${quoteUrl(url)}`);
    return undefined;
  }
  const before = problems.length;
  const decode = (part: string, what: string): string | undefined => {
    try {
      return decodeURIComponent(part);
    } catch {
      problems.push(`DATABASE_URL has a badly %-encoded ${what}: write a literal % as %25`);
      return undefined;
    }
  };
  const host = decode(parsed.hostname.replace(/^\[(.*)\]$/, '$1'), 'host') ?? '';
  if (!host) problems.push(`DATABASE_URL must name the PostgreSQL server's host, such as ${POSTGRES_EXAMPLE}, got ${quoteUrl(url)}`);
  const port = parsed.port ? Number(parsed.port) : POSTGRES_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`DATABASE_URL's port must be between 1 and 65535, got ${quoteInput(parsed.port)}`);
  const path = parsed.pathname.replace(/^\//, '');
  const database = path.includes('/') ? undefined : decode(path, 'database name');
  if (!path || path.includes('/')) {
    problems.push(`DATABASE_URL must end with the database's name after one /, such as ${POSTGRES_EXAMPLE}, got ${quoteUrl(url)}`);
  }
  const user = parsed.username ? decode(parsed.username, 'user name') : undefined;
  const password = parsed.password ? decode(parsed.password, 'password') : undefined;
  if (parsed.hash) problems.push(`DATABASE_URL must not have a #fragment, got ${quoteUrl(url)}`);

  const query: Extract<ParsedDatabaseUrl, { kind: 'postgres' }>['query'] = {};
  const seen = new Set<string>();
  for (const [name, value] of parsed.searchParams) {
    if (seen.has(name)) {
      problems.push(`DATABASE_URL has the parameter ${name} twice`);
      continue;
    }
    seen.add(name);
    if (name === 'sslmode') {
      const mode = sslModeOf(value);
      if (mode) query.sslmode = mode;
      else if (value === 'prefer' || value === 'allow') {
        problems.push(`DATABASE_URL's sslmode=${value} is not supported (Sesame never falls back between TLS and plain connections): use ${SSL_WORDS}`);
      } else problems.push(`DATABASE_URL's sslmode must be one of ${SSL_WORDS}, got ${quoteInput(value)}`);
    } else if (name === 'sslrootcert') {
      if (value.trim()) query.sslrootcert = resolve(value.trim());
      else problems.push('DATABASE_URL\'s sslrootcert must name a PEM file of the CA certificates to trust');
    } else if (name === 'pool_max') {
      const max = wholeNumber(value, 1, 1000);
      if (max === undefined) problems.push(`DATABASE_URL's pool_max must be an integer between 1 and 1000, got ${quoteInput(value)}`);
      else query.poolMax = max;
    } else if (name === 'connect_timeout') {
      // libpq's connect_timeout is in seconds.
      const seconds = wholeNumber(value, 1, 600);
      if (seconds === undefined) problems.push(`DATABASE_URL's connect_timeout must be a number of seconds between 1 and 600, got ${quoteInput(value)}`);
      else query.connectTimeoutMs = seconds * 1000;
    } else if (name === 'application_name') {
      query.applicationName = value;
    } else {
      problems.push(`DATABASE_URL has an unknown parameter ${quoteInput(name)}: Sesame reads ${QUERY_NAMES.join(', ')}`);
    }
  }
  if (problems.length > before || database === undefined) return undefined;
  return { kind: 'postgres', url, safeUrl: redactDatabaseUrl(url), host, port, database, user, password, query };
}

function wholeNumber(value: string, min: number, max: number): number | undefined {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const number = Number(trimmed);
  return number >= min && number <= max ? number : undefined;
}

/** Accepts `sqlite:./path.db`, `sqlite:///abs/path.db`, `sqlite::memory:` (as src/db/sqlite.ts). */
function sqlitePath(url: string): string {
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  return rest === ':memory:' ? rest : resolve(rest);
}

/** The DATABASE_* variables besides DATABASE_URL (already checked for type and range by the schema). */
export interface DatabaseVariables {
  DATABASE_POOL_MAX?: number;
  DATABASE_CONNECT_TIMEOUT_MS?: number;
  DATABASE_STATEMENT_TIMEOUT_MS?: number;
  DATABASE_SSL?: string;
  DATABASE_SSL_CA?: string;
}

export const DATABASE_SSL_WORDS = ['off', 'disable', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * DATABASE_URL plus the DATABASE_* variables -> the database to open. A setting may come from the
 * URL's query (libpq's sslmode, sslrootcert, connect_timeout; Sesame's pool_max) or from its
 * variable; both at once with different values is a problem, not a silent choice. The PostgreSQL
 * variables with a SQLite URL are a problem too: they would be silently ignored.
 */
export function databaseConfig(url: string, variables: DatabaseVariables, problems: string[]): DatabaseConfig | undefined {
  const parsed = parseDatabaseUrl(url, problems);
  if (!parsed) return undefined;
  if (parsed.kind === 'sqlite') {
    const set = Object.entries(variables)
      .filter(([, value]) => value !== undefined)
      .map(([name]) => name);
    if (set.length) problems.push(`${set.join(', ')} ${set.length > 1 ? 'apply' : 'applies'} only to a PostgreSQL DATABASE_URL (postgres://...), and DATABASE_URL is SQLite`);
    return problems.length ? undefined : { kind: 'sqlite', file: parsed.path };
  }
  const before = problems.length;
  const pick = <T>(fromUrl: T | undefined, urlName: string, fromVariable: T | undefined, variableName: string): T | undefined => {
    if (fromUrl !== undefined && fromVariable !== undefined && fromUrl !== fromVariable) {
      problems.push(`DATABASE_URL's ${urlName} and ${variableName} disagree: set one of them`);
    }
    return fromUrl ?? fromVariable;
  };
  const variableSsl = variables.DATABASE_SSL === undefined ? undefined : sslModeOf(variables.DATABASE_SSL);
  const mode = pick(parsed.query.sslmode, 'sslmode', variableSsl, 'DATABASE_SSL') ?? 'off';
  const caFile = pick(parsed.query.sslrootcert, 'sslrootcert', variables.DATABASE_SSL_CA === undefined ? undefined : resolve(variables.DATABASE_SSL_CA), 'DATABASE_SSL_CA');
  if (caFile && mode !== 'verify-ca' && mode !== 'verify-full') {
    problems.push(`a CA file (DATABASE_SSL_CA or sslrootcert) is only used to verify the server: set DATABASE_SSL=verify-full (or verify-ca), got ${mode}`);
  }
  const max = pick(parsed.query.poolMax, 'pool_max', variables.DATABASE_POOL_MAX, 'DATABASE_POOL_MAX') ?? POSTGRES_DEFAULTS.poolMax;
  const connectionTimeoutMs =
    pick(parsed.query.connectTimeoutMs, 'connect_timeout', variables.DATABASE_CONNECT_TIMEOUT_MS, 'DATABASE_CONNECT_TIMEOUT_MS') ??
    POSTGRES_DEFAULTS.connectionTimeoutMs;
  if (problems.length > before) return undefined;
  return {
    kind: 'postgres',
    url: parsed.url,
    safeUrl: parsed.safeUrl,
    host: parsed.host,
    port: parsed.port,
    database: parsed.database,
    user: parsed.user,
    password: parsed.password,
    applicationName: parsed.query.applicationName ?? POSTGRES_DEFAULTS.applicationName,
    pool: {
      max,
      idleTimeoutMs: POSTGRES_DEFAULTS.idleTimeoutMs,
      connectionTimeoutMs,
      statementTimeoutMs: variables.DATABASE_STATEMENT_TIMEOUT_MS ?? POSTGRES_DEFAULTS.statementTimeoutMs,
    },
    ssl: caFile ? { mode, caFile } : { mode },
  };
}
