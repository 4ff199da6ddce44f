import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { databaseConfig, type DatabaseConfig } from '../../src/config/database.ts';
import { migrateDatabase, openDatabase } from '../../src/db/open.ts';
import { createApplication } from '../../src/management/applications.ts';
import { freePort, ROOT, startChild, type Child } from './processes.ts';

export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export interface SesameInstance {
  child: Child;
  port: number;
  /** DATABASE_URL the instance runs on. */
  databaseUrl: string;
  /** The SQLite file when `databaseUrl` is SQLite (the seed helpers open it directly); '' on PostgreSQL. */
  databaseFile: string;
  /** `${ENDPOINT}/oidc`: through the proxy when ENDPOINT names one. */
  issuer: string;
}

/**
 * Sesame as production runs it (`npm run start:server`: the esbuild build in dist/server/main.mjs,
 * NODE_ENV=production) in its own process, so its RSS and start-up are its own and the load
 * generator does not share its event loop. `dev: true` runs src/main.ts through tsx instead, as
 * `npm start` does. The per-IP limits are lifted: the app's requests all come from 127.0.0.1, and
 * the browsers from 256 loopback addresses (lib/http.ts), each making far more sign-ins than a person.
 * The database is `databaseUrl`, else the SQLite file `<dir>/sesame.db`; `env` adds to or overrides
 * the variables (several instances behind a proxy share its ENDPOINT and set TRUST_PROXY).
 */
export async function startSesameProcess(options: {
  dir?: string;
  databaseUrl?: string;
  smtpPort: number;
  port?: number;
  nodeArgs?: string[];
  /** Run src/main.ts through tsx (what `npm start` does) instead of the production build. */
  dev?: boolean;
  /** Another tree's production build to run (its dist/server/main.mjs), instead of this tree's. */
  build?: string;
  env?: Record<string, string>;
  /** How much of the latest output child.output() keeps (default startChild's). */
  keepOutputChars?: number;
}): Promise<SesameInstance> {
  const port = options.port ?? (await freePort());
  const databaseUrl = options.databaseUrl ?? sqliteUrl(options.dir);
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    ENDPOINT: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(options.smtpPort),
    SMTP_SECURE: 'false',
    SMTP_FROM: 'Sesame <no-reply@sesame.test>',
    // BENCH_LOG_LEVEL=error shows Sesame's own errors when a bench run fails.
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_MINUTE: '1000000',
    CODE_SENDS_PER_IP: '1000000',
    ...options.env,
  };
  const child = await startChild({
    script: options.dev ? 'src/main.ts' : (options.build ?? buildProduction()),
    tsx: Boolean(options.dev),
    port,
    probePath: '/health',
    keepOutputChars: options.keepOutputChars,
    // BENCH_NODE_ARGS (space-separated) tries a Node or V8 flag on every Sesame the bench starts.
    nodeArgs: [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(options.nodeArgs ?? [])],
    env,
  });
  const config = benchDatabaseConfig(databaseUrl);
  return { child, port, databaseUrl, databaseFile: config.kind === 'sqlite' ? config.file : '', issuer: `${env.ENDPOINT}/oidc` };
}

function sqliteUrl(dir: string | undefined): string {
  if (!dir) throw new Error('startSesameProcess needs a dir (for the SQLite file) or a databaseUrl');
  return `sqlite:${join(dir, 'sesame.db')}`;
}

/** DATABASE_URL parsed as Sesame parses it; a bench bug if it does not parse. */
export function benchDatabaseConfig(databaseUrl: string): DatabaseConfig {
  const problems: string[] = [];
  const config = databaseConfig(databaseUrl, {}, problems);
  if (!config) throw new Error(`bad DATABASE_URL for the bench: ${problems.join('; ')}`);
  return config;
}

/**
 * Registers the bench app straight into the database (the CLI does the same), on either engine.
 * Migrates first, so it may run before any instance has started (a no-op when one already has).
 */
export async function registerBenchApp(databaseUrl: string): Promise<{ id: string; secret: string }> {
  const config = benchDatabaseConfig(databaseUrl);
  const database = await openDatabase(config);
  try {
    await migrateDatabase(database, resolve(ROOT, 'migrations', config.kind));
    const app = await createApplication(database.db, {
      name: 'Bench',
      type: 'traditional',
      redirectUris: [REDIRECT_URI],
      postLogoutRedirectUris: ['http://127.0.0.1:9/'],
    });
    return { id: app.id, secret: app.secret };
  } finally {
    await database.db.destroy();
  }
}

let built: string | undefined;
/** `npm run build` once per bench run: the file `npm run start:server` starts. */
export function buildProduction(): string {
  if (!built) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    built = join(ROOT, 'dist', 'server', 'main.mjs');
  }
  return built;
}
