import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { expect, it } from 'vitest';
import type { PostgresDatabaseConfig } from '../../src/config/database.ts';
import { DatabaseUnavailableError } from '../../src/db/database.ts';
import {
  connectionOptions,
  createPostgresDialect,
  createPostgresPool,
  describePostgresFault,
  openPostgres,
  tryAdvisoryLock,
  withAdvisoryLock,
} from '../../src/db/postgres.ts';
import {
  adminConfig,
  applyPostgresMigrations,
  createTestDatabase,
  describePostgres,
  POSTGRES_MIGRATION_FILES,
  postgresSchemaShape,
  sqliteSchemaShape,
  useTestDatabase,
  withDatabase,
} from '../helpers/postgres.ts';

/** What openPostgres rejected with (it must be a DatabaseUnavailableError: one start-up line). */
async function startupFault(config: PostgresDatabaseConfig): Promise<DatabaseUnavailableError> {
  const error = await openPostgres(config).then(
    (pool) => {
      void pool.end();
      throw new Error('openPostgres unexpectedly succeeded');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  const fault = error as DatabaseUnavailableError;
  expect(fault.message).not.toContain('\n');
  return fault;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describePostgres('PostgreSQL groundwork', () => {
  const database = useTestDatabase();

  it('applies migrations/postgres in order on an empty database, and they match SQLite column for column', async () => {
    const pool = database.current.pool();
    const applied = await applyPostgresMigrations(pool);
    expect(applied).toEqual(POSTGRES_MIGRATION_FILES);
    expect(applied.map((file) => file.slice(0, 4)).slice(0, 3)).toEqual(['0001', '0002', '0003']);
    const postgres = await postgresSchemaShape(pool);
    const sqlite = sqliteSchemaShape();
    expect(Object.keys(postgres).sort()).toEqual(Object.keys(sqlite).sort());
    // Per table: names, declared types, NOT NULL, defaults, primary key, unique columns, and every
    // named index with its columns and partial-ness.
    for (const table of Object.keys(sqlite)) expect(postgres[table], table).toEqual(sqlite[table]);
  });

  it('carries the queries the code runs on both engines: upserts on their keys, the settings counter, int8 as numbers', async () => {
    const pool = database.current.pool();
    const upsert = 'INSERT INTO health_check (id, checked_at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at';
    await pool.query(upsert, [Date.now()]);
    await pool.query(upsert, [1_900_000_000_000]);
    const { rows } = await pool.query('SELECT checked_at, COUNT(*) AS n FROM health_check GROUP BY checked_at');
    expect(rows).toEqual([{ checked_at: 1_900_000_000_000, n: 1 }]);
    await expect(pool.query('INSERT INTO health_check (id, checked_at) VALUES (2, 0)')).rejects.toMatchObject({ code: '23514' });

    const bump = `INSERT INTO settings (key, value, updated_at) VALUES ('version', '1', $1)
      ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at`;
    for (let i = 0; i < 3; i++) await pool.query(bump, [i]);
    expect((await pool.query("SELECT value FROM settings WHERE key = 'version'")).rows[0]).toEqual({ value: '3' });

    await pool.query(
      `INSERT INTO applications (id, name, type, secret, redirect_uris, post_logout_redirect_uris, created_at)
       VALUES ('app1', 'A', 'traditional', 's', '[]', '[]', 1)`,
    );
    expect((await pool.query('SELECT is_third_party, token_endpoint_auth_method FROM applications')).rows[0]).toEqual({
      is_third_party: 0,
      token_endpoint_auth_method: 'client_secret_basic',
    });
    await expect(pool.query("UPDATE applications SET token_endpoint_auth_method = 'none'")).rejects.toMatchObject({ code: '23514' });

    // Byte order on text, as SQLite's BINARY: 'B' < 'a' < 'b', whatever the database's locale.
    for (const id of ['b', 'B', 'a']) await pool.query("INSERT INTO server_keys (id, purpose, material, created_at) VALUES ($1, 'signing', '{}', 1)", [id]);
    expect((await pool.query('SELECT id FROM server_keys ORDER BY id')).rows.map((row) => row.id)).toEqual(['B', 'a', 'b']);
  });

  it('0006 moves address locks from sign_in_lockouts into sign_in_locks', async () => {
    const scratch = await createTestDatabase();
    try {
      const pool = scratch.pool();
      await applyPostgresMigrations(pool, { upTo: 5 });
      await pool.query("INSERT INTO sign_in_lockouts (email, level, locked_until, updated_at) VALUES ('a@example.com', 2, 5000, 4000)");
      await applyPostgresMigrations(pool, { from: 6 });
      expect((await pool.query('SELECT * FROM sign_in_locks')).rows).toEqual([
        { subject: 'address a@example.com', email: 'a@example.com', level: 2, locked_until: 5000, updated_at: 4000 },
      ]);
    } finally {
      await scratch.drop();
    }
  });

  it('runs Kysely over the pool through createPostgresDialect', async () => {
    const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect: createPostgresDialect(createPostgresPool(database.current.config)) });
    try {
      const row = await db
        .selectFrom('applications')
        .select(['id', 'created_at'])
        .where('id', '=', 'app1')
        .executeTakeFirst();
      expect(row).toEqual({ id: 'app1', created_at: 1 });
      expect((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM applications`.execute(db)).rows[0]).toEqual({ n: 1 });
    } finally {
      await db.destroy();
    }
  });

  describePostgres('start-up check: one line per way of failing', () => {
    it('opens a working database', async () => {
      const pool = await openPostgres(database.current.config);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await pool.end();
    });

    it('refused port', async () => {
      const port = await closedPort();
      const fault = await startupFault({ ...database.current.config, host: '127.0.0.1', port });
      expect(fault.reason).toBe('unreachable');
      expect(fault.message).toBe(
        `cannot connect to PostgreSQL at 127.0.0.1:${port}/${database.current.name}: connection refused; start PostgreSQL, or fix the host and port in DATABASE_URL`,
      );
    });

    it('a user (role) the server does not have', async () => {
      const fault = await startupFault({ ...database.current.config, user: 'sesame_no_such_role', password: 'x' });
      expect(fault.reason).toBe('cannot connect');
      expect(fault.message).toMatch(/has no user \(role\) "sesame_no_such_role": create it \(createuser /);
      expect(fault.message).not.toContain('password');
    });

    it('a missing database', async () => {
      const fault = await startupFault(withDatabase(database.current.config, 'sesame_no_such_database'));
      expect(fault.reason).toBe('missing database');
      expect(fault.message).toMatch(/^the database "sesame_no_such_database" does not exist on PostgreSQL at .*: create it \(createdb /);
    });

    it('TLS asked for but the server has none, or its certificate is not trusted', async () => {
      const admin = new pg.Pool({ ...connectionOptions(adminConfig()), max: 1 });
      const { rows } = await admin.query<{ ssl: string }>('SHOW ssl');
      await admin.end();
      const fault = await startupFault({ ...database.current.config, ssl: { mode: 'verify-full' } });
      if (rows[0]?.ssl === 'on') {
        expect(fault.reason).toBe('TLS certificate');
      } else {
        expect(fault.reason).toBe('TLS unavailable');
        expect(fault.message).toMatch(/does not offer TLS, but DATABASE_SSL \(or sslmode\) is verify-full/);
      }
    });

    it('a role over its connection limit (too many connections)', async () => {
      const role = `sesame_limited_${randomBytes(4).toString('hex')}`;
      const admin = database.current.pool();
      await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
      const first = new pg.Client({ ...connectionOptions(database.current.config), user: role });
      try {
        await first.connect();
        const fault = await startupFault({ ...database.current.config, user: role });
        expect(fault.reason).toBe('too many connections');
        expect(fault.message).toMatch(/has no free connection \(too many clients\)/);
      } finally {
        await first.end().catch(() => undefined);
        await admin.query(`DROP ROLE ${role}`);
      }
    });
  });

  describePostgres('runtime faults become DatabaseUnavailableError', () => {
    it('a statement past the statement timeout', async () => {
      const pool = createPostgresPool({ ...database.current.config, pool: { ...database.current.config.pool, statementTimeoutMs: 200 } });
      try {
        const started = Date.now();
        const error = await rejection(pool.query('SELECT pg_sleep(3)'));
        expect(Date.now() - started).toBeLessThan(2000);
        const fault = describePostgresFault(error);
        expect(fault).toBeInstanceOf(DatabaseUnavailableError);
        expect(fault?.reason).toBe('timeout');
        expect(fault?.message).toMatch(/statement timeout/);
        // The pool still serves afterwards.
        expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      } finally {
        await pool.end();
      }
    });

    it('a connection ended by the server (pg_terminate_backend: 57P01), and the pool recovers', async () => {
      const idleErrors: Error[] = [];
      const pool = createPostgresPool(database.current.config, { onIdleError: (error) => idleErrors.push(error) });
      try {
        const victim = await pool.connect();
        // After the failed query, pg also emits 'error' ("Connection terminated unexpectedly") on the
        // checked-out client when the socket closes; Sesame's driver listens (PostgresFaultConnection), so must this.
        victim.on('error', () => undefined);
        const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const sleeping = rejection(victim.query('SELECT pg_sleep(5)'));
        await new Promise((resolve) => setTimeout(resolve, 100));
        await database.current.pool().query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        const error = await sleeping;
        victim.release(error as Error);
        const fault = describePostgresFault(error);
        expect(fault?.reason).toBe('shut down');
        expect(fault?.message).toMatch(/shutting down/);
        expect((await pool.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
      } finally {
        await pool.end();
      }
    });

    it('an idle pooled connection killed does not crash the process; the next query gets a fresh one', async () => {
      const idleErrors: Error[] = [];
      const pool = createPostgresPool(database.current.config, { onIdleError: (error) => idleErrors.push(error) });
      try {
        const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await database.current.pool().query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        for (let waited = 0; !idleErrors.length && waited < 3000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(idleErrors.map((error) => describePostgresFault(error)?.reason)).toEqual(['shut down']);
        expect((await pool.query('SELECT 4 AS four')).rows).toEqual([{ four: 4 }]);
      } finally {
        await pool.end();
      }
    });

    it('a pool that was ended', async () => {
      const pool = createPostgresPool(database.current.config);
      await pool.end();
      expect(describePostgresFault(await rejection(pool.query('SELECT 1')))?.reason).toBe('closed');
    });
  });

  describePostgres('advisory locks', () => {
    it('withAdvisoryLock runs holders one at a time; tryAdvisoryLock skips while it is held', async () => {
      const pools = [0, 1, 2, 3].map(() => createPostgresPool(database.current.config));
      try {
        let inside = 0;
        let most = 0;
        const order: number[] = [];
        const timeouts: string[] = [];
        await Promise.all(
          pools.map((pool, index) =>
            withAdvisoryLock(pool, 'sesame:test-migrations', async (client) => {
              inside++;
              // The lock's wait had a timeout of its own; the connection is back to the pool's.
              timeouts.push((await client.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout);
              most = Math.max(most, inside);
              await new Promise((resolve) => setTimeout(resolve, 50));
              order.push(index);
              inside--;
            }),
          ),
        );
        expect(most).toBe(1);
        expect(order.sort()).toEqual([0, 1, 2, 3]);
        expect(timeouts).toEqual(['5s', '5s', '5s', '5s']);

        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let signalHeld!: () => void;
        const isHeld = new Promise<void>((resolve) => (signalHeld = resolve));
        const holder = withAdvisoryLock(pools[0]!, 'sesame:test-purge', async () => {
          signalHeld();
          await held;
          return 'done';
        });
        await isHeld;
        expect(await tryAdvisoryLock(pools[1]!, 'sesame:test-purge', async () => 'ran')).toEqual({ acquired: false });
        const waited = await rejection(withAdvisoryLock(pools[2]!, 'sesame:test-purge', async () => 'ran', { timeoutMs: 300 }));
        expect(waited).toBeInstanceOf(DatabaseUnavailableError);
        expect((waited as DatabaseUnavailableError).reason).toBe('locked');
        release();
        expect(await holder).toBe('done');
        expect(await tryAdvisoryLock(pools[1]!, 'sesame:test-purge', async () => 'ran')).toEqual({ acquired: true, value: 'ran' });
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
  });
});
