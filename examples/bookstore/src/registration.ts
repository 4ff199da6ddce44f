import { execFile } from 'node:child_process';
import type { DemoStore } from './store.ts';

export const DEMO_APP_NAME = 'Bookstore (demo)';

/** Runs one `sesame` command and resolves with what it printed on stdout; rejects when it fails. */
export type SesameCli = (args: string[]) => Promise<string>;

export interface SesameCommandOptions {
  /** The program and its first arguments, e.g. ['npx', 'sesame'] (the default) or [process.execPath, '/srv/sesame/bin/sesame.js']. */
  command?: readonly string[];
  /** Where it runs: the `sesame` command reads `.env` there. Default: this process's directory. */
  cwd?: string;
  /** Its environment (DATABASE_URL picks Sesame's database). Default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/** The `sesame` command as a function, run as a person would run it in a shell. */
export function sesameCommand(options: SesameCommandOptions = {}): SesameCli {
  const [program = 'npx', ...first] = options.command ?? ['npx', 'sesame'];
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(program, [...first, ...args], { cwd: options.cwd, env: options.env, timeout: 60_000 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const said = stderr.trim().split('\n').at(-1) || error.message;
        reject(new Error(`\`sesame ${args.join(' ')}\` failed: ${said}`, { cause: error }));
      });
    });
}

export function demoRedirectUris(baseUrl: string): { callback: string; home: string } {
  const base = trimTrailingSlash(baseUrl);
  return { callback: `${base}/callback`, home: `${base}/` };
}

export function trimTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** What `sesame app list --json` says about an app (it never prints secrets). */
interface ListedApp {
  id: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}

/** The command's answer is one JSON value on its last line. */
function lastJsonLine(stdout: string, args: string[]): unknown {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`\`sesame ${args.join(' ')}\` did not print JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
}

async function json(sesame: SesameCli, args: string[]): Promise<unknown> {
  return lastJsonLine(await sesame(args), args);
}

/**
 * Registers the Bookstore with Sesame through the `sesame` command, once, and keeps the App ID and
 * Secret in the Bookstore's own file. A registration that was deleted, or that no longer matches
 * baseUrl, is replaced, so the Bookstore always signs in with a client Sesame knows.
 */
export async function ensureDemoRegistration(
  sesame: SesameCli,
  store: DemoStore,
  baseUrl: string,
): Promise<{ clientId: string; clientSecret: string }> {
  const { callback, home } = demoRedirectUris(baseUrl);
  const storedId = store.getSetting('client_id');
  const storedSecret = store.getSetting('client_secret');
  if (storedId && storedSecret) {
    const apps = (await json(sesame, ['app', 'list', '--json'])) as ListedApp[];
    const existing = Array.isArray(apps) ? apps.find((app) => app.id === storedId) : undefined;
    if (existing?.redirectUris.includes(callback) && existing.postLogoutRedirectUris.includes(home)) {
      return { clientId: storedId, clientSecret: storedSecret };
    }
    // A stale registration of ours (baseUrl moved) would only clutter `sesame app list`.
    if (existing && existing.name === DEMO_APP_NAME) await sesame(['app', 'delete', existing.id]);
  }
  const created = (await json(sesame, [
    'app', 'create', '--json',
    '--name', DEMO_APP_NAME,
    '--type', 'traditional',
    '--redirect-uri', callback,
    '--post-logout-redirect-uri', home,
  ])) as { id?: unknown; secret?: unknown };
  if (typeof created?.id !== 'string' || typeof created.secret !== 'string') {
    throw new Error('`sesame app create --json` printed no id and secret');
  }
  store.setSetting('client_id', created.id);
  store.setSetting('client_secret', created.secret);
  return { clientId: created.id, clientSecret: created.secret };
}
