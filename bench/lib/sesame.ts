import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createApplication } from '../../src/management/applications.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { freePort, ROOT, startChild, type Child } from './processes.ts';

export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export interface SesameInstance {
  child: Child;
  port: number;
  dir: string;
  databaseFile: string;
  issuer: string;
}

/**
 * Sesame as production runs it (`npm run start:server`: the esbuild build in dist/server/main.mjs,
 * NODE_ENV=production) in its own process, so its RSS and start-up are its own and the load
 * generator does not share its event loop. `dev: true` runs src/main.ts through tsx instead, as
 * `npm start` does. Every bench client comes from 127.0.0.1, so the per-IP limits are lifted.
 */
export async function startSesameProcess(options: {
  dir: string;
  smtpPort: number;
  port?: number;
  nodeArgs?: string[];
  /** Run src/main.ts through tsx (what `npm start` does) instead of the production build. */
  dev?: boolean;
}): Promise<SesameInstance> {
  const port = options.port ?? (await freePort());
  const databaseFile = join(options.dir, 'sesame.db');
  const child = await startChild({
    script: options.dev ? 'src/main.ts' : buildProduction(),
    tsx: Boolean(options.dev),
    port,
    probePath: '/health',
    nodeArgs: options.nodeArgs,
    env: {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      ENDPOINT: `http://127.0.0.1:${port}`,
      DATABASE_URL: `sqlite:${databaseFile}`,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(options.smtpPort),
      SMTP_SECURE: 'false',
      SMTP_FROM: 'Sesame <no-reply@sesame.test>',
      // BENCH_LOG_LEVEL=error shows Sesame's own errors when a bench run fails.
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
      RATE_LIMIT_PER_MINUTE: '1000000',
      CODE_SENDS_PER_IP: '1000000',
    },
  });
  return { child, port, dir: options.dir, databaseFile, issuer: `http://127.0.0.1:${port}/oidc` };
}

/** Registers the bench app straight into the database file (the CLI does the same). */
export async function registerBenchApp(databaseFile: string): Promise<{ id: string; secret: string }> {
  const db = openSqlite(databaseFile);
  try {
    const app = await createApplication(db, {
      name: 'Bench',
      type: 'traditional',
      redirectUris: [REDIRECT_URI],
      postLogoutRedirectUris: ['http://127.0.0.1:9/'],
    });
    return { id: app.id, secret: app.secret };
  } finally {
    await db.destroy();
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
