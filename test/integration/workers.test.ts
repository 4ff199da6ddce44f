import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startChild, type Child } from '../../bench/lib/processes.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { sesameCli } from '../helpers/cli.ts';
import { buildServerBundle } from '../helpers/instances.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { startSmtpCatcher, type SmtpCatcher } from '../helpers/smtp.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const PER_MINUTE = 30;

/** The PIDs of `parent`'s child processes, from /proc. */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** GET on a connection of its own, so the cluster hands each request to the next worker. */
function getOnNewConnection(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function health(url: string): Promise<{ status: string; workers?: { ready: number; configured: number } }> {
  return (await fetch(`${url}/health`)).json() as Promise<{ status: string; workers?: { ready: number; configured: number } }>;
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 15_000): Promise<T> {
  let value = await read();
  for (const deadline = Date.now() + ms; !check(value) && Date.now() < deadline; ) {
    await sleep(100);
    value = await read();
  }
  return value;
}

/**
 * WORKERS=2 on one SQLite file, as production runs it (the esbuild bundle, NODE_ENV=production):
 * two processes on one port behave as one server, a worker that dies is replaced, SIGTERM stops all.
 */
describe('WORKERS=2: two server processes on one port and one SQLite database', () => {
  let smtp: SmtpCatcher;
  let bundle: { file: string; remove(): void };
  let dir: string;
  let server: Child;
  let url: string;
  let database: string;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    bundle = await buildServerBundle('workers-');
    dir = mkdtempSync(join(tmpdir(), 'sesame-workers-'));
    database = join(dir, 'sesame.db');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = await startChild({
      script: bundle.file,
      tsx: false,
      cwd: dir,
      port,
      probePath: '/health',
      keepOutputChars: 256 * 1024,
      env: {
        WORKERS: '2',
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        ENDPOINT: url,
        DATABASE_URL: `sqlite:${database}`,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_FROM: 'Sesame <no-reply@sesame.test>',
        TRUST_PROXY: '1',
        RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
        LOG_LEVEL: 'info',
      },
    });
    await until(() => health(url), (answer) => answer.workers?.ready === 2);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await smtp?.close();
    bundle?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs two workers under one primary, and /health counts them', async () => {
    expect(childPids(server.pid)).toHaveLength(2);
    expect(await health(url)).toEqual({ status: 'ok', database: 'ok', workers: { ready: 2, configured: 2 } });
  });

  it('signs a person in across workers', async () => {
    const created = await sesameCli(['app', 'create', '--name', 'Workers', '--type', 'traditional', '--redirect-uri', REDIRECT, '--json'], {
      cwd: dir,
      database,
    });
    expect(created.code).toBe(0);
    const app = JSON.parse(created.stdout) as { id: string; secret: string };
    const config = await discover(`${url}/oidc`, app);
    // Each fetch may land on either worker; the sign-in's state is all in the database.
    for (let i = 0; i < 3; i += 1) {
      const authorization = await startAuthorization(config, REDIRECT);
      const { callback } = await signInWithEmail(new HttpBrowser(), smtp, authorization, `worker${i}@example.com`, REDIRECT);
      const tokens = await exchange(config, callback, authorization);
      expect(tokens.id_token).toBeTruthy();
      expect(tokens.refresh_token).toBeTruthy();
    }
  });

  it('counts the HTTP rate limit once for both workers (SQLite table, not per process)', async () => {
    const client = { 'x-forwarded-for': '192.0.2.77' };
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE + 4; i += 1) statuses.push(await getOnNewConnection(`${url}/oidc/.well-known/openid-configuration`, client));
    // Discovery's budget is RATE_LIMIT_PER_MINUTE per IP; per-process counters would allow twice that.
    expect(statuses.slice(0, PER_MINUTE).every((status) => status === 200)).toBe(true);
    expect(statuses.slice(PER_MINUTE)).toEqual([429, 429, 429, 429]);
  });

  it('replaces a worker that dies, and logs it', async () => {
    const [victim, survivor] = childPids(server.pid);
    process.kill(victim!, 'SIGKILL');
    const replaced = await until(
      async () => childPids(server.pid),
      (pids) => pids.length === 2 && !pids.includes(victim!),
    );
    expect(replaced).toContain(survivor);
    expect(await until(() => health(url), (answer) => answer.workers?.ready === 2)).toMatchObject({ workers: { ready: 2, configured: 2 } });
    expect(server.output()).toMatch(new RegExp(`worker \\d \\(pid ${victim}\\) exited \\(SIGKILL\\); starting a replacement`));
  }, 30_000);

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const workers = childPids(server.pid);
    const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)));
    server.process.kill('SIGTERM');
    const code = await exited;
    expect(code, `the primary's output:\n${server.output().slice(-4000)}`).toBe(0);
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(server.output()).toMatch(/SIGTERM received: stopping 2 workers/);
  }, 30_000);
});
