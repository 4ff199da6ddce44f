import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Session } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_APP_NAME, DemoStore, ensureDemoRegistration, sesameCommand, type SesameCli } from '@sesame/bookstore-example';
import { main } from '../../src/cli.ts';
import { deleteApplication, findApplication, listApplications } from '../../src/db/applications.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { ROOT } from '../helpers/cli.ts';

let dir: string;
let sesameDb: Database;
const stores: DemoStore[] = [];

function openStore(name = 'demo.db', now?: () => number): DemoStore {
  const store = DemoStore.open(join(dir, name), now);
  stores.push(store);
  return store;
}

const cliEnv = () => ({ NODE_ENV: 'test', DATABASE_URL: `sqlite:${join(dir, 'sesame.db')}` });

/** The `sesame` command's own code (src/cli.ts main), run in this process: each call takes milliseconds, not a node start. */
function cli(calls: string[][] = []): SesameCli {
  return async (args) => {
    calls.push(args);
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (line) => out.push(line), err: (line) => err.push(line) }, cliEnv());
    if (code !== 0) throw new Error(`\`sesame ${args.join(' ')}\` failed: ${err.join(' ')}`);
    return `${out.join('\n')}\n`;
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-demo-'));
  sesameDb = openSqlite(join(dir, 'sesame.db'));
  await migrate(sesameDb, resolve('migrations/sqlite'));
});

afterEach(async () => {
  for (const store of stores.splice(0)) store.close();
  await sesameDb.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('ensureDemoRegistration', () => {
  const baseUrl = 'http://localhost:3000';

  it('registers once, reuses it, and re-creates a deleted registration', async () => {
    const store = openStore();
    const first = await ensureDemoRegistration(cli(), store, baseUrl);
    const app = await findApplication(sesameDb, first.clientId);
    expect(app).toMatchObject({
      name: DEMO_APP_NAME,
      type: 'traditional',
      secret: first.clientSecret,
      redirectUris: ['http://localhost:3000/callback'],
      postLogoutRedirectUris: ['http://localhost:3000/'],
    });
    expect(store.getSetting('client_id')).toBe(first.clientId);
    expect(store.getSetting('client_secret')).toBe(first.clientSecret);

    const calls: string[][] = [];
    const second = await ensureDemoRegistration(cli(calls), store, `${baseUrl}/`);
    expect(second).toEqual(first);
    expect(calls).toEqual([['app', 'list', '--json']]);
    expect(await listApplications(sesameDb)).toHaveLength(1);

    expect(await deleteApplication(sesameDb, first.clientId)).toBe(true);
    const third = await ensureDemoRegistration(cli(), store, baseUrl);
    expect(third.clientId).not.toBe(first.clientId);
    expect(await findApplication(sesameDb, third.clientId)).toBeDefined();
    expect(store.getSetting('client_id')).toBe(third.clientId);
    expect(await listApplications(sesameDb)).toHaveLength(1);
  });

  it('survives a restart of the demo (reopened store)', async () => {
    const first = await ensureDemoRegistration(cli(), openStore(), baseUrl);
    stores.pop()?.close();
    const again = await ensureDemoRegistration(cli(), openStore(), baseUrl);
    expect(again).toEqual(first);
  });

  it('replaces its registration when baseUrl moves', async () => {
    const store = openStore();
    const first = await ensureDemoRegistration(cli(), store, baseUrl);
    const moved = await ensureDemoRegistration(cli(), store, 'https://books.example.com');
    expect(moved.clientId).not.toBe(first.clientId);
    expect(await findApplication(sesameDb, first.clientId)).toBeUndefined();
    expect((await findApplication(sesameDb, moved.clientId))?.redirectUris).toEqual([
      'https://books.example.com/callback',
    ]);
  });
});

describe('sesameCommand', () => {
  const baseUrl = 'http://localhost:3000';
  const command = [process.execPath, join(ROOT, 'bin', 'sesame.js')];

  it('registers through the real `sesame` command once and reuses it on the next start', async () => {
    const sesame = sesameCommand({ command, cwd: dir, env: { ...process.env, ...cliEnv() } });
    const first = await ensureDemoRegistration(sesame, openStore(), baseUrl);
    expect(first.clientSecret).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect(await findApplication(sesameDb, first.clientId)).toMatchObject({ name: DEMO_APP_NAME, secret: first.clientSecret });
    stores.pop()?.close();
    expect(await ensureDemoRegistration(sesame, openStore(), baseUrl)).toEqual(first);
    expect(await listApplications(sesameDb)).toHaveLength(1);
  });

  it('fails with the command\'s own one-line reason', async () => {
    const directory = join(dir, 'not-a-file');
    mkdirSync(directory);
    const sesame = sesameCommand({ command, cwd: dir, env: { ...process.env, ...cliEnv(), DATABASE_URL: `sqlite:${directory}` } });
    await expect(ensureDemoRegistration(sesame, openStore(), baseUrl)).rejects.toThrow(
      /^`sesame app create --json .*` failed: error: .*it is a directory/,
    );
  });
});

describe('DemoStore', () => {
  const session = (expires: Date) => ({ cookie: { originalMaxAge: 1000, expires }, bookstoreUser: { accessToken: 'at' } }) as unknown as Session;

  function call<T>(fn: (cb: (error?: unknown, value?: T) => void) => void): Promise<T | undefined> {
    return new Promise((ok, fail) => fn((error, value) => (error ? fail(error) : ok(value))));
  }

  it('keeps settings, the session secret and sessions across close and reopen', async () => {
    const store = openStore();
    store.setSetting('greeting', 'hello');
    store.setSetting('greeting', 'hello again');
    const secret = store.sessionSecret();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const expires = new Date(Date.now() + 60_000);
    await call<void>((cb) => store.sessionStore().set('sid-1', session(expires), cb));
    store.close();
    stores.pop();

    const reopened = openStore();
    expect(reopened.getSetting('greeting')).toBe('hello again');
    expect(reopened.getSetting('missing')).toBeUndefined();
    expect(reopened.sessionSecret()).toBe(secret);
    const loaded = await call<Session | null>((cb) => reopened.sessionStore().get('sid-1', cb));
    expect(loaded).toMatchObject({ bookstoreUser: { accessToken: 'at' }, cookie: { expires: expires.toISOString() } });

    await call<void>((cb) => reopened.sessionStore().destroy('sid-1', cb));
    expect(await call<Session | null>((cb) => reopened.sessionStore().get('sid-1', cb))).toBeNull();
  });

  it('does not hand out expired sessions and purges them', async () => {
    let now = Date.now();
    const store = openStore('clock.db', () => now);
    const sessions = store.sessionStore();
    await call<void>((cb) => sessions.set('old', session(new Date(now + 1000)), cb));
    await call<void>((cb) => sessions.set('young', session(new Date(now + 10_000)), cb));
    now += 5000;
    expect(await call<Session | null>((cb) => sessions.get('old', cb))).toBeNull();
    expect(await call<Session | null>((cb) => sessions.get('young', cb))).not.toBeNull();
    now += 10_000;
    expect(store.purgeExpiredSessions()).toBe(1);
  });
});
