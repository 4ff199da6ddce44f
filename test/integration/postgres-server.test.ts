import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { startSesame, StartupError } from '../../src/server.ts';
import { adminConfig, describePostgres, POSTGRES_MIGRATION_FILES, useTestDatabase, withDatabase } from '../helpers/postgres.ts';
import { freePort, startTestSesame } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

/** A TCP relay to PostgreSQL that can be cut (every connection reset, the port closed) and restored on the same port. */
async function startRelay(port: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const target = adminConfig();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(on, '127.0.0.1', () => resolve((server!.address() as { port: number }).port));
    });
  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  const bound = await listen(port);
  return { port: bound, cut, restore: async () => void (await listen(bound)), close: cut };
}

const logCapture = () => {
  const lines: Record<string, unknown>[] = [];
  return {
    stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    errors: () => lines.filter((line) => (line.level as number) >= 50).map((line) => String(line.msg)),
  };
};

describePostgres('Sesame on PostgreSQL', () => {
  const database = useTestDatabase();

  it('starts on DATABASE_URL=postgres://, migrates under the advisory lock, and two instances starting together migrate once', async () => {
    const [a, b] = await Promise.all([
      startTestSesame({ env: { DATABASE_URL: database.current.url } }),
      startTestSesame({ env: { DATABASE_URL: database.current.url } }),
    ]);
    try {
      for (const sesame of [a, b]) {
        expect(sesame.config.database.kind).toBe('postgres');
        expect(await (await fetch(`${sesame.url}/health`)).json()).toEqual({ status: 'ok', database: 'ok' });
        expect((await fetch(`${sesame.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      }
      const { rows } = await database.current.pool().query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
      expect(Number(rows[0]?.n)).toBe(POSTGRES_MIGRATION_FILES.length);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('refuses to start on a server it cannot reach or a missing database, with one line', async () => {
    const base = { NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: String(await freePort()), HOST: '127.0.0.1' };
    const closed = await freePort();
    const unreachable = `postgres://postgres@127.0.0.1:${closed}/sesame`;
    const failure = await startSesame(loadConfig({ ...base, DATABASE_URL: unreachable }), { devMailbox: false }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StartupError);
    expect((failure as Error).message).toBe(
      `cannot connect to PostgreSQL at 127.0.0.1:${closed}/sesame: connection refused; start PostgreSQL, or fix the host and port in DATABASE_URL`,
    );
    const missing = withDatabase(adminConfig(), 'sesame_no_such_database').url;
    const missingFailure = await startSesame(loadConfig({ ...base, DATABASE_URL: missing }), { devMailbox: false }).catch((error: unknown) => error);
    expect(missingFailure).toBeInstanceOf(StartupError);
    expect((missingFailure as Error).message).toMatch(/^the database "sesame_no_such_database" does not exist on PostgreSQL at .*: create it/);
  });

  it('answers 503 (/health with the cause, the readable page) while PostgreSQL is unreachable, and recovers when it is back', async () => {
    const relay = await startRelay(0);
    const log = logCapture();
    const url = new URL(database.current.url);
    url.port = String(relay.port);
    const sesame = await startTestSesame({
      env: { DATABASE_URL: url.toString(), DATABASE_CONNECT_TIMEOUT_MS: '1000' },
      sesame: { logger: { level: 'info', stream: log.stream } },
    });
    try {
      const app = await sesame.registerApp({ redirectUris: [REDIRECT] });
      const config = await discover(sesame.issuer, app);
      expect((await fetch(`${sesame.url}/health`)).status).toBe(200);

      await relay.cut();
      const health = await fetch(`${sesame.url}/health`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { database: string }).database).toMatch(/^(unreachable|connection lost|timeout)$/);
      const start = await startAuthorization(config, REDIRECT);
      const page = await fetch(start.url, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toBe('30');
      expect(await page.text()).toContain('Temporarily unavailable');
      expect(log.errors().some((line) => /^health: the database is unavailable \((unreachable|connection lost|timeout)/.test(line))).toBe(true);
      expect(log.errors().some((line) => /^database unavailable \(/.test(line))).toBe(true);

      await relay.restore();
      expect((await fetch(`${sesame.url}/health`)).status).toBe(200);
      const again = await fetch(start.url, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(again.status).toBe(303);
    } finally {
      await sesame.stop();
      await relay.close();
    }
  });
});
