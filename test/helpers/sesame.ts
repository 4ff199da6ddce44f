import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { startSesame, type RunningSesame, type SesameOptions } from '../../src/server.ts';
import { createApplication } from '../../src/management/applications.ts';
import type { Application } from '../../src/db/applications.ts';
import { startSmtpCatcher, type SmtpCatcher } from './smtp.ts';
import { createTestDatabase, MIGRATIONS, TEST_DATABASE_URL, type TestDatabase } from './postgres.ts';
import { databaseConfig } from '../../src/config/database.ts';
import { migrateDatabase, openDatabase, type OpenDatabase } from '../../src/db/open.ts';
import type { CodeRecord } from '../../src/db/verification.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'sesame-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Which engine the started servers use: SQLite (a file in the test's temp directory) by default, or
 * with TEST_DATABASE_URL set, PostgreSQL (a fresh database per temp directory; see testDatabaseUrl).
 * Tests that open a SQLite file themselves keep SQLite either way.
 */
export const TEST_ENGINE: 'sqlite' | 'postgres' = TEST_DATABASE_URL ? 'postgres' : 'sqlite';

/** PostgreSQL databases created for temp directories in this test file; dropped after it. */
const postgresByDir = new Map<string, Promise<TestDatabase>>();
if (TEST_DATABASE_URL) {
  // Registered while the test file that imports this helper is collected: runs after that file.
  afterAll(async () => {
    const databases = [...postgresByDir.values()];
    postgresByDir.clear();
    for (const database of databases) await (await database.catch(() => undefined))?.drop().catch(() => undefined);
  });
}

/**
 * DATABASE_URL for a server whose files live in `dir`: `sqlite:DIR/sesame.db`, or with
 * TEST_DATABASE_URL a PostgreSQL database of this directory's own, created empty on first use, so a
 * server restarted on the same directory finds its data again and the `sesame` command can be
 * pointed at it.
 */
export async function testDatabaseUrl(dir: string): Promise<string> {
  if (!TEST_DATABASE_URL) return `sqlite:${join(dir, 'sesame.db')}`;
  let database = postgresByDir.get(dir);
  if (!database) {
    database = createTestDatabase();
    postgresByDir.set(dir, database);
  }
  return (await database).url;
}

export interface TestSesame extends RunningSesame {
  config: Readonly<Config>;
  issuer: string;
  dir: string;
  /** The DATABASE_URL it runs on (for the `sesame` command: sesameCli's `database`). */
  databaseUrl: string;
  registerApp(overrides?: Partial<Parameters<typeof createApplication>[1]>): Promise<Application>;
  stop(): Promise<void>;
}

/** A real Sesame on a free port with a temp SQLite file (or PostgreSQL database: TEST_ENGINE), sending mail to `smtpPort`. */
export async function startTestSesame(
  options: {
    smtpPort?: number;
    env?: Record<string, string>;
    dir?: string;
    sesame?: SesameOptions;
    /** 'sqlite': a SQLite file even with TEST_DATABASE_URL (a test of SQLite's own behaviour). */
    engine?: 'sqlite';
  } = {},
): Promise<TestSesame> {
  const port = await freePort();
  const dir = options.dir ?? tempDir().path;
  const endpoint = `http://127.0.0.1:${port}`;
  const databaseUrl =
    options.env?.DATABASE_URL ?? (options.engine === 'sqlite' ? `sqlite:${join(dir, 'sesame.db')}` : await testDatabaseUrl(dir));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ENDPOINT: endpoint,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'silent',
    ...(options.smtpPort
      ? { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(options.smtpPort), SMTP_SECURE: 'false', SMTP_FROM: 'Sesame <no-reply@sesame.test>' }
      : {}),
    ...options.env,
  });
  const sesame = await startSesame(config, { devMailbox: false, ...options.sesame });
  return {
    ...sesame,
    config,
    issuer: config.issuer,
    dir,
    databaseUrl,
    registerApp: (overrides = {}) =>
      createApplication(sesame.db, {
        name: 'Test App',
        type: 'traditional',
        redirectUris: ['http://127.0.0.1:9/callback'],
        postLogoutRedirectUris: ['http://127.0.0.1:9/'],
        ...overrides,
      }),
    stop: () => sesame.close(),
  };
}

export interface TestSesameWithMail extends TestSesame {
  /** The SMTP server Sesame sends to; stopped by stop(). */
  smtp: SmtpCatcher;
}

/** An SMTP catcher and a Sesame sending to it, started together; stop() stops both. */
export async function startSesameWithMail(
  options: Omit<NonNullable<Parameters<typeof startTestSesame>[0]>, 'smtpPort'> = {},
): Promise<TestSesameWithMail> {
  const smtp = await startSmtpCatcher();
  try {
    const sesame = await startTestSesame({ ...options, smtpPort: smtp.port });
    return {
      ...sesame,
      smtp,
      stop: async () => {
        await sesame.stop();
        await smtp.close();
      },
    };
  } catch (error) {
    await smtp.close();
    throw error;
  }
}

/**
 * beforeAll: a migrated database on the engine under test (TEST_ENGINE), opened as the server opens
 * it; afterAll: closed and removed. Read `.current` inside tests.
 */
/** A fresh sign-in code row for `interactionUid`, unused, valid for a minute (for tests that store one directly). */
export function codeRecord(interactionUid: string, email: string): CodeRecord {
  const now = Date.now();
  return {
    interactionUid,
    purpose: 'sign-in',
    email,
    codeHmac: 'hmac',
    failedAttempts: 0,
    expiresAt: now + 60_000,
    lastSentAt: now,
    consumedAt: null,
    createdAt: now,
    linkHmac: null,
    linkCode: null,
  };
}

export function useEngineDatabase(prefix: string): { readonly current: OpenDatabase } {
  const dir = tempDir(prefix);
  let database: OpenDatabase | undefined;
  beforeAll(async () => {
    const config = databaseConfig(await testDatabaseUrl(dir.path), {}, []);
    if (!config) throw new Error('no database config');
    database = await openDatabase(config);
    await migrateDatabase(database, TEST_ENGINE === 'postgres' ? MIGRATIONS.postgres : MIGRATIONS.sqlite);
  });
  afterAll(async () => {
    await database?.db.destroy();
    dir.remove();
  });
  return {
    get current() {
      if (!database) throw new Error('the database is opened in beforeAll');
      return database;
    },
  };
}
