import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { redactDatabaseUrl, type PostgresDatabaseConfig } from '../../src/config/database.ts';
import { connectionOptions, describePostgresStartupFault, describeServer } from '../../src/db/postgres.ts';
import { benchDatabaseConfig } from './sesame.ts';

/** Where Debian's PostgreSQL listens locally besides 127.0.0.1:5432. */
const LOCAL_SOCKET_DIRECTORY = '/var/run/postgresql';

/**
 * The admin connection the bench creates its database through (any database its user may CREATE
 * DATABASE from). A PostgreSQL on the same machine is reached over its Unix socket when it has one, as
 * a same-box deployment would connect (psql's default too): on this VM a loopback TCP round trip costs
 * the client several times the CPU of a socket one, and a sign-in makes some 40 of them. The table
 * says which was used; BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres measures TCP.
 */
export const DEFAULT_BENCH_DATABASE_URL = existsSync(`${LOCAL_SOCKET_DIRECTORY}/.s.PGSQL.5432`)
  ? `postgres://postgres@${encodeURIComponent(LOCAL_SOCKET_DIRECTORY)}/postgres`
  : 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  /** How the server is reached, for the table: `127.0.0.1:5432` or `socket /var/run/postgresql`. */
  server: string;
  /** DATABASE_URL of the new database (holds the password, if the admin URL has one). */
  url: string;
  /** Adds users seed-<from>..seed-<to-1>@example.com (as seed.ts seedUsers does on SQLite); returns seconds taken. */
  seedUsers(from: number, to: number): Promise<number>;
  /**
   * The server processes working for this database: its backends and the server's background
   * processes (WAL writer, checkpointer, ...), not other databases' backends. Their CPU is read
   * from /proc, so the server must run on this machine (else /proc has no such pids: 0 ms).
   */
  serverPids(): Promise<number[]>;
  /** DROP DATABASE ... WITH (FORCE) (PostgreSQL 13+), then closes the admin connection. */
  drop(): Promise<void>;
}

/**
 * A fresh, empty database `sesame_bench_<time>_<random>` on the server `adminUrl` names. Throws one
 * line (Sesame's own start-up message: unreachable, bad password, ...) when the server cannot be used,
 * so the caller can report the PostgreSQL scenarios as skipped.
 */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const config = benchDatabaseConfig(adminUrl);
  if (config.kind !== 'postgres') throw new Error(`BENCH_DATABASE_URL is not a PostgreSQL URL: ${redactDatabaseUrl(adminUrl)}`);
  const admin = connect(config);
  try {
    await admin.connect();
  } catch (error) {
    throw describePostgresStartupFault(config, error);
  }
  admin.on('error', () => undefined);
  const name = `sesame_bench_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw new Error(`cannot create the bench database on ${config.safeUrl}: ${(error as Error).message}`);
  }
  const url = databaseUrl(config, name);
  return {
    name,
    server: describeServer(config).replace(/\/[^/]*$/, ''),
    url,
    seedUsers: (from, to) => seedUsers(url, from, to),
    async serverPids() {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE (datname = $1 OR backend_type <> 'client backend') AND pid <> pg_backend_pid()`,
        [name],
      );
      return rows.map((row) => row.pid);
    },
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
  };
}

/** A client (not yet connected) as Sesame would connect, giving up after 3 s rather than hang the bench. */
function connect(config: PostgresDatabaseConfig): pg.Client {
  return new pg.Client({ ...connectionOptions(config), connectionTimeoutMillis: 3_000 });
}

/** The admin URL pointed at database `name`, its query (sslmode, ...) kept. */
function databaseUrl(config: PostgresDatabaseConfig, name: string): string {
  const url = new URL(config.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The SQLite seed's users (seed-<i>@example.com, as seed.ts seededEmail names them) in one statement.
 * Ids are 12 lower-case hex characters, shaped like Sesame's randomId.
 */
async function seedUsers(url: string, from: number, to: number): Promise<number> {
  const started = performance.now();
  const config = benchDatabaseConfig(url);
  if (config.kind !== 'postgres') throw new Error('not a PostgreSQL URL');
  const client = connect(config);
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (id, email, email_verified, custom_data, created_at, updated_at, last_sign_in_at)
       SELECT substr(md5(random()::text || i::text), 1, 12), 'seed-' || i || '@example.com', 1, '{}', $3, $3, $3
         FROM generate_series($1::int, $2::int - 1) AS i`,
      [from, to, Date.now()],
    );
  } finally {
    await client.end();
  }
  return (performance.now() - started) / 1000;
}
