import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import type { PostgresDatabaseConfig } from '../../src/config/database.ts';
import { DatabaseUnavailableError } from '../../src/db/database.ts';
import { advisoryLockKey, describePostgresFault, describePostgresStartupFault, tlsOptions } from '../../src/db/postgres.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const postgres = (env: Record<string, string>) => {
  const { database } = loadConfig(env);
  if (database.kind !== 'postgres') throw new Error('expected PostgreSQL');
  return database;
};

describe('DATABASE_URL', () => {
  it('defaults to SQLite, with databaseFile as before', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ kind: 'sqlite', file: config.databaseFile });
    expect(config.databaseFile).toMatch(/\/data\/sesame\.db$/);
    expect(config.paths.migrations).toMatch(/migrations\/sqlite$/);
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', file: ':memory:' });
  });

  it('selects PostgreSQL with postgres:// or postgresql://, with defaults for the pool and TLS off', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://sesame:s%40cret@db.example.com:6432/sesame' });
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgres://sesame:s%40cret@db.example.com:6432/sesame',
      safeUrl: 'postgres://sesame:***@db.example.com:6432/sesame',
      host: 'db.example.com',
      port: 6432,
      database: 'sesame',
      user: 'sesame',
      password: 's@cret',
      applicationName: 'sesame',
      pool: { max: 10, idleTimeoutMs: 30_000, connectionTimeoutMs: 5_000, statementTimeoutMs: 5_000 },
      ssl: { mode: 'off' },
    });
    expect(config.databaseFile).toBe('');
    expect(config.paths.migrations).toMatch(/migrations\/postgres$/);
    expect(postgres({ DATABASE_URL: 'postgresql://db/sesame' })).toMatchObject({ host: 'db', port: 5432, user: undefined, password: undefined });
    expect(postgres({ DATABASE_URL: 'postgres://[::1]/s' }).host).toBe('::1');
    expect(postgres({ DATABASE_URL: 'postgres://me@%2Fvar%2Frun%2Fpostgresql/s' }).host).toBe('/var/run/postgresql');
  });

  it('is accepted at start: no config error for a well-formed PostgreSQL URL', () => {
    expect(problems({ DATABASE_URL: 'postgres://u:hunter2@db/s' })).toEqual([]);
    expect(loadConfig({ DATABASE_URL: 'postgres://u:hunter2@db/s' }).database.kind).toBe('postgres');
  });

  it('takes the pool size and TLS from the URL or from the DATABASE_* variables', () => {
    expect(postgres({ DATABASE_URL: 'postgres://db/s?sslmode=require&pool_max=25&connect_timeout=3' })).toMatchObject({
      ssl: { mode: 'require' },
      pool: { max: 25, connectionTimeoutMs: 3000 },
    });
    const fromVariables = postgres({
      DATABASE_URL: 'postgres://db/s',
      DATABASE_POOL_MAX: '4',
      DATABASE_SSL: 'verify-full',
      DATABASE_SSL_CA: '/etc/ssl/db-ca.pem',
      DATABASE_CONNECT_TIMEOUT_MS: '2500',
      DATABASE_STATEMENT_TIMEOUT_MS: '0',
    });
    expect(fromVariables).toMatchObject({
      ssl: { mode: 'verify-full', caFile: '/etc/ssl/db-ca.pem' },
      pool: { max: 4, connectionTimeoutMs: 2500, statementTimeoutMs: 0 },
    });
    expect(postgres({ DATABASE_URL: 'postgres://db/s?sslmode=disable', DATABASE_SSL: 'off' }).ssl).toEqual({ mode: 'off' });
    expect(postgres({ DATABASE_URL: 'postgres://db/s?sslmode=verify-ca&sslrootcert=/ca.pem' }).ssl).toEqual({ mode: 'verify-ca', caFile: '/ca.pem' });
  });

  it('reports one line per problem and never prints the password', () => {
    const lines = problems({
      DATABASE_URL: 'postgres://u:hunter2@db.example.com?sslmode=prefer&pool_max=0&sslmod=require',
      PORT: 'abc',
    });
    expect(lines).toEqual([
      'PORT must be an integer between 1 and 65535, got "abc"',
      'DATABASE_URL must end with the database\'s name after one /, such as postgres://sesame:secret@db.example.com:5432/sesame, got "postgres://u:***@db.example.com?sslmode=prefer&pool_max=0&sslmod=require"',
      "DATABASE_URL's sslmode=prefer is not supported (Sesame never falls back between TLS and plain connections): use disable, require, verify-ca or verify-full",
      'DATABASE_URL\'s pool_max must be an integer between 1 and 1000, got "0"',
      'DATABASE_URL has an unknown parameter "sslmod": Sesame reads sslmode, sslrootcert, pool_max, connect_timeout, application_name',
    ]);
    for (const line of lines) expect(line).not.toContain('hunter2');
    expect(problems({ DATABASE_URL: 'postgres:///sesame' })).toEqual([
      'DATABASE_URL must name the PostgreSQL server\'s host, such as postgres://sesame:secret@db.example.com:5432/sesame, got "postgres:///sesame"',
    ]);
    expect(problems({ DATABASE_URL: 'postgres://u:hunter2@db:99999/s' })).toEqual([
      'DATABASE_URL is not a valid PostgreSQL URL (check the port and any characters that need %-encoding), such as postgres://sesame:secret@db.example.com:5432/sesame, got "postgres://u:***@db:99999/s"',
    ]);
    expect(problems({ DATABASE_URL: 'mysql://x' })).toEqual(['DATABASE_URL must look like sqlite:./data/sesame.db, got "mysql://x"']);
  });

  it('refuses settings that contradict each other or do not apply', () => {
    expect(problems({ DATABASE_URL: 'postgres://db/s?pool_max=5', DATABASE_POOL_MAX: '6' })).toEqual([
      "DATABASE_URL's pool_max and DATABASE_POOL_MAX disagree: set one of them",
    ]);
    expect(problems({ DATABASE_URL: 'postgres://db/s', DATABASE_SSL: 'require', DATABASE_SSL_CA: '/ca.pem' })).toEqual([
      'a CA file (DATABASE_SSL_CA or sslrootcert) is only used to verify the server: set DATABASE_SSL=verify-full (or verify-ca), got require',
    ]);
    expect(problems({ DATABASE_POOL_MAX: '5' })).toEqual([
      'DATABASE_POOL_MAX applies only to a PostgreSQL DATABASE_URL (postgres://...), and DATABASE_URL is SQLite',
    ]);
    expect(problems({ DATABASE_URL: 'postgres://db/s', DATABASE_SSL: 'maybe', DATABASE_POOL_MAX: '0' })).toEqual([
      'DATABASE_POOL_MAX must be an integer between 1 and 1000, got "0"',
      'DATABASE_SSL must be one of off, disable, require, verify-ca, verify-full, got "maybe"',
    ]);
  });
});

describe('PostgreSQL faults', () => {
  const config = postgres({ DATABASE_URL: 'postgres://sesame:pw@db.example.com/sesame' });
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('maps start-up failures to one line each', () => {
    const cases: [unknown, string, RegExp][] = [
      [pgError('28P01', 'password authentication failed for user "sesame"'), 'bad password', /refused the password for user "sesame": fix the password in DATABASE_URL/],
      [pgError('3D000', 'database "sesame" does not exist'), 'missing database', /^the database "sesame" does not exist on PostgreSQL at db\.example\.com:5432\/sesame: create it/],
      [pgError('28000', 'role "sesame" does not exist'), 'cannot connect', /has no user \(role\) "sesame"/],
      [pgError('28000', 'no pg_hba.conf entry for host "10.0.0.5", user "sesame", database "sesame", no encryption'), 'TLS required', /accepts only encrypted connections from here: set DATABASE_SSL=/],
      [Object.assign(new AggregateError([pgError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')]), { code: 'ECONNREFUSED' }), 'unreachable', /connection refused/],
      [new AggregateError([pgError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432')]), 'unreachable', /connection refused/],
      [pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND db.example.com'), 'unreachable', /"db\.example\.com" does not resolve/],
      [new Error('The server does not support SSL connections'), 'TLS unavailable', /does not offer TLS/],
      [pgError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), 'TLS certificate', /DATABASE_SSL_CA/],
      [new Error('Connection terminated due to connection timeout'), 'timeout', /no answer within 5000 ms/],
      [new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 'bad password', /DATABASE_URL has none/],
      [pgError('53300', 'sorry, too many clients already'), 'too many connections', /DATABASE_POOL_MAX/],
    ];
    for (const [error, reason, message] of cases) {
      const fault = describePostgresStartupFault(config, error);
      expect(fault, String(error)).toBeInstanceOf(DatabaseUnavailableError);
      expect(fault.reason, String(error)).toBe(reason);
      expect(fault.message).toMatch(message);
      expect(fault.message).not.toContain('\n');
      expect(fault.message).not.toContain(':pw@');
    }
  });

  it('maps runtime failures that mean "cannot serve" to DatabaseUnavailableError, and nothing else', () => {
    const reason = (error: unknown) => describePostgresFault(error)?.reason;
    expect(reason(pgError('57P01', 'terminating connection due to administrator command'))).toBe('shut down');
    expect(reason(pgError('53300', 'sorry, too many clients already'))).toBe('too many connections');
    expect(reason(pgError('57014', 'canceling statement due to statement timeout'))).toBe('timeout');
    expect(reason(new Error('Query read timeout'))).toBe('timeout');
    expect(reason(new Error('timeout exceeded when trying to connect'))).toBe('timeout');
    expect(reason(new Error('Connection terminated unexpectedly'))).toBe('connection lost');
    expect(reason(pgError('ECONNRESET', 'read ECONNRESET'))).toBe('connection lost');
    expect(reason(pgError('08006', 'connection failure'))).toBe('connection lost');
    expect(reason(pgError('ECONNREFUSED', 'connect ECONNREFUSED'))).toBe('unreachable');
    expect(reason(pgError('25006', 'cannot execute INSERT in a read-only transaction'))).toBe('read-only');
    expect(reason(pgError('53100', 'could not extend file: No space left on device'))).toBe('disk full');
    expect(reason(new Error('Cannot use a pool after calling end on the pool'))).toBe('closed');
    expect(reason(pgError('23505', 'duplicate key value violates unique constraint'))).toBeUndefined();
    expect(reason(pgError('42601', 'syntax error'))).toBeUndefined();
    expect(reason(pgError('40001', 'could not serialize access'))).toBeUndefined();
  });

  it('builds TLS options per mode, and advisory lock keys as signed 64-bit integers', () => {
    const withSsl = (ssl: PostgresDatabaseConfig['ssl']) => ({ ...config, ssl });
    expect(tlsOptions(withSsl({ mode: 'off' }))).toBe(false);
    expect(tlsOptions(withSsl({ mode: 'require' }))).toEqual({ rejectUnauthorized: false });
    expect(tlsOptions(withSsl({ mode: 'verify-full' }))).toEqual({ rejectUnauthorized: true });
    expect(() => tlsOptions(withSsl({ mode: 'verify-full', caFile: '/nonexistent/ca.pem' }))).toThrow(/cannot read the CA file \/nonexistent\/ca\.pem .*ENOENT/);
    const key = advisoryLockKey('sesame:migrations');
    expect(key).toMatch(/^-?\d+$/);
    expect(BigInt(key) >= -(2n ** 63n) && BigInt(key) < 2n ** 63n).toBe(true);
    expect(advisoryLockKey('sesame:migrations')).toBe(key);
    expect(advisoryLockKey('sesame:purge')).not.toBe(key);
  });
});
