import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createApplication } from '../../src/admin/applications.ts';
import { SqliteDatabase } from '../../src/db/sqlite.ts';
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
 * Sesame as production runs it (`node --import tsx src/main.ts`, NODE_ENV=production) in its own
 * process, so its RSS and start-up are its own and the load generator does not share its event loop.
 * Every bench client comes from 127.0.0.1, so the per-IP limits are lifted.
 */
export async function startSesameProcess(options: {
  dir: string;
  smtpPort: number;
  port?: number;
  nodeArgs?: string[];
  /** Run this JavaScript bundle instead of src/main.ts through tsx. */
  bundle?: string;
}): Promise<SesameInstance> {
  const port = options.port ?? (await freePort());
  const databaseFile = join(options.dir, 'sesame.db');
  const child = await startChild({
    script: options.bundle ?? 'src/main.ts',
    tsx: !options.bundle,
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
  const db = new SqliteDatabase(databaseFile);
  try {
    const app = await createApplication(db, {
      name: 'Bench',
      type: 'traditional',
      redirectUris: [REDIRECT_URI],
      postLogoutRedirectUris: ['http://127.0.0.1:9/'],
    });
    return { id: app.id, secret: app.secret };
  } finally {
    await db.close();
  }
}

/**
 * src/main.ts bundled by esbuild (installed with tsx) with packages left external: what a build
 * step would ship instead of compiling TypeScript at start-up. It sits two levels below the project
 * root, as src/main.ts does, so PROJECT_ROOT still finds migrations and templates.
 * Returns undefined when esbuild is not there.
 */
export function buildBundle(): string | undefined {
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  if (!existsSync(esbuild)) return undefined;
  const outfile = join(ROOT, 'bench', 'results', 'sesame-main.mjs');
  execFileSync(esbuild, ['src/main.ts', '--bundle', '--platform=node', '--format=esm', '--packages=external', `--outfile=${outfile}`, '--log-level=error'], {
    cwd: ROOT,
  });
  return outfile;
}
