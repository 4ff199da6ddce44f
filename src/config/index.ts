import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { envSchema, type TrustProxy } from './schema.ts';

import { databaseConfig, type DatabaseConfig } from './database.ts';

export type { TrustProxy } from './schema.ts';
export type { DatabaseConfig, PostgresDatabaseConfig, PostgresSslMode, SqliteDatabaseConfig } from './database.ts';

export interface SmtpSettings {
  host: string;
  port: number;
  user?: string;
  pass?: string;
  secure: boolean;
  from: string;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  endpoint: string;
  issuer: string;
  secureCookies: boolean;
  port: number;
  host: string;
  /** Which database to open: a SQLite file, or a PostgreSQL server with its pool and TLS settings. */
  database: DatabaseConfig;
  /** The SQLite file (`database.file`); '' when `database.kind` is 'postgres'. */
  databaseFile: string;
  smtp?: SmtpSettings;
  logLevel: string;
  /** fastify's trustProxy: false, a hop count, or proxy addresses/CIDRs (see TRUST_PROXY). */
  trustProxy: TrustProxy;
  codeTtlMinutes: number;
  /**
   * How long a rotated signing key is published before it signs (SIGNING_KEY_GRACE_SECONDS): relying
   * parties that cached the JWKS before the rotation refetch it within this time. /oidc/jwks is
   * served with a max-age no longer than this.
   */
  signingKeyGraceMs: number;
  /** Server processes on one port (WORKERS; `auto` resolved to the number of cores). 1 = no cluster. */
  workers: number;
  /** Days an audit record is kept (AUDIT_LOG_RETENTION_DAYS); the periodic purge deletes older ones. */
  auditLogRetentionDays: number;
  /** How often expired rows are purged (PURGE_INTERVAL_SECONDS, in ms here); on PostgreSQL one instance at a time. */
  purgeEveryMs: number;
  limits: { requestsPerIpPerMinute: number; codeSendsPerIpPer15Minutes: number };
  demo: { port: number; url: string };
  /** `migrations` is the configured engine's directory: migrations/sqlite or migrations/postgres. */
  paths: { root: string; migrations: string; pages: string; email: string; public: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** Values from `.env` fill in what the real environment does not set. */
export function readEnvironment(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...env };
}

/** Validates every variable at once and reports each bad one on its own line. */
export function loadConfig(raw: Record<string, string | undefined>): Readonly<Config> {
  const defined = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(defined);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  const env = parsed.data;

  const problems: string[] = [];
  let smtp: SmtpSettings | undefined;
  if (env.SMTP_HOST) {
    if (!env.SMTP_FROM) problems.push('SMTP_FROM is required when SMTP_HOST is set (e.g. "Sesame <no-reply@example.com>")');
    if (env.SMTP_USER && !env.SMTP_PASS) problems.push('SMTP_PASS is required when SMTP_USER is set');
    const secure = env.SMTP_SECURE ?? env.SMTP_PORT === 465;
    smtp = {
      host: env.SMTP_HOST,
      port: env.SMTP_PORT ?? (secure ? 465 : 587),
      user: env.SMTP_USER,
      pass: env.SMTP_PASS,
      secure,
      from: env.SMTP_FROM ?? '',
    };
  } else if (env.SMTP_PORT || env.SMTP_USER || env.SMTP_PASS || env.SMTP_FROM) {
    problems.push('SMTP_HOST is required when any other SMTP_* variable is set');
  }
  const database = databaseConfig(
    env.DATABASE_URL,
    {
      DATABASE_POOL_MAX: env.DATABASE_POOL_MAX,
      DATABASE_CONNECT_TIMEOUT_MS: env.DATABASE_CONNECT_TIMEOUT_MS,
      DATABASE_STATEMENT_TIMEOUT_MS: env.DATABASE_STATEMENT_TIMEOUT_MS,
      DATABASE_SSL: env.DATABASE_SSL,
      DATABASE_SSL_CA: env.DATABASE_SSL_CA,
    },
    problems,
  );
  const workerCount = env.WORKERS === 'auto' ? availableParallelism() : env.WORKERS;
  if (workerCount > 1 && !env.SMTP_HOST && env.NODE_ENV !== 'production') {
    // Each process would run a dev mailbox of its own, and /dev/mail would show whichever one answered.
    problems.push('WORKERS above 1 needs an SMTP server (SMTP_HOST): the dev mailbox lives in one process');
  }
  if (problems.length || !database) throw new ConfigError(problems);

  const config: Config = {
    env: env.NODE_ENV,
    endpoint: env.ENDPOINT,
    issuer: `${env.ENDPOINT}/oidc`,
    secureCookies: env.ENDPOINT.startsWith('https:'),
    port: env.PORT,
    host: env.HOST,
    database,
    databaseFile: database.kind === 'sqlite' ? database.file : '',
    smtp,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    codeTtlMinutes: env.CODE_TTL_MINUTES,
    signingKeyGraceMs: env.SIGNING_KEY_GRACE_SECONDS * 1000,
    workers: workerCount,
    auditLogRetentionDays: env.AUDIT_LOG_RETENTION_DAYS,
    purgeEveryMs: env.PURGE_INTERVAL_SECONDS * 1000,
    limits: { requestsPerIpPerMinute: env.RATE_LIMIT_PER_MINUTE, codeSendsPerIpPer15Minutes: env.CODE_SENDS_PER_IP },
    demo: { port: env.DEMO_PORT, url: env.DEMO_URL ?? `http://localhost:${env.DEMO_PORT}` },
    paths: {
      root: PROJECT_ROOT,
      migrations: resolve(PROJECT_ROOT, 'migrations', database.kind),
      pages: resolve(PROJECT_ROOT, 'templates', 'pages'),
      email: resolve(PROJECT_ROOT, 'templates', 'email'),
      public: resolve(PROJECT_ROOT, 'public'),
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) if (inner && typeof inner === 'object') deepFreeze(inner);
  return Object.freeze(value);
}
