import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/sesame.ts';
import { ROOT, sesameCli } from '../helpers/cli.ts';

const run = promisify(execFile);
const dir = tempDir('sesame-cli-');
afterAll(() => dir.remove());

const sesame = (args: string[], env: Record<string, string> = {}) =>
  sesameCli(args, { cwd: dir.path, database: join(dir.path, 'cli.db'), env });

describe('the sesame command', () => {
  it('creates an app and prints its App ID and an alphanumeric App Secret', async () => {
    const created = await sesame([
      'app', 'create', '--name', 'Shop', '--type', 'traditional',
      '--redirect-uri', 'http://localhost:3000/callback', '--redirect-uri', 'https://shop.example/callback',
      '--post-logout-redirect-uri', 'http://localhost:3000/', '--json',
    ]);
    expect(created.code).toBe(0);
    const app = JSON.parse(created.stdout);
    expect(app.id).toMatch(/^[a-z0-9]+$/);
    expect(app.secret).toMatch(/^[A-Za-z0-9]{32,}$/);
    expect(app.redirectUris).toEqual(['http://localhost:3000/callback', 'https://shop.example/callback']);

    const human = await sesame(['app', 'create', '--name', 'Two', '--type', 'traditional', '--redirect-uri', 'http://a.example/cb']);
    expect(human.stdout).toMatch(/App ID: +[a-z0-9]+/);
    expect(human.stdout).toMatch(/App Secret: +[A-Za-z0-9]{32}/);

    const listed = JSON.parse((await sesame(['app', 'list', '--json'])).stdout) as { id: string; secret?: string }[];
    expect(listed.map((a) => a.id)).toContain(app.id);
    expect(listed[0]).not.toHaveProperty('secret');

    expect((await sesame(['app', 'delete', app.id])).code).toBe(0);
    const after = JSON.parse((await sesame(['app', 'list', '--json'])).stdout) as { id: string }[];
    expect(after.map((a) => a.id)).not.toContain(app.id);
    // An ID that names nothing is a usage error: exit 2.
    expect((await sesame(['app', 'delete', app.id])).code).toBe(2);
  });

  it('refuses bad input with one clear line, exit code 2, and writes nothing', async () => {
    const before = (await sesame(['app', 'list', '--json'])).stdout;
    const cases: [string[], RegExp][] = [
      [['app', 'create', '--type', 'traditional', '--redirect-uri', 'http://a/cb'], /--name is required/],
      [['app', 'create', '--name', 'X', '--type', 'spa', '--redirect-uri', 'http://a/cb'], /type must be one of: traditional, m2m, got "spa"/],
      [['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'not a url'], /absolute http\(s\) URL/],
      [['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'ftp://a/cb'], /absolute http\(s\) URL/],
      [['app', 'create', '--name', 'X', '--type', 'traditional'], /at least one --redirect-uri/],
      [['app', 'create', '--name', 'X', '--type', 'traditional', '--redirect-uri', 'http://a/cb', '--bogus'], /unknown option/i],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const result = await sesame(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
    }
    expect((await sesame(['app', 'list', '--json'])).stdout).toBe(before);
  });

  it('reports configuration mistakes one line each without a stack trace', async () => {
    const result = await sesame(['app', 'list'], { PORT: 'abc', NODE_ENV: 'prod' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('config error: PORT must be an integer between 1 and 65535, got "abc"');
    expect(result.stderr).toContain('config error: NODE_ENV must be one of development, production, test, got "prod"');
    expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('refuses to start the server on a bad config with the same clear lines', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'abc' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toContain('config error: PORT must be an integer between 1 and 65535, got "abc"');
    expect((result as { stderr: string }).stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('refuses to start in production without SMTP', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production', PORT: '3999', DATABASE_URL: `sqlite:${join(dir.path, 'prod.db')}` },
    }).catch((error: { code: number; stderr: string }) => error);
    expect((result as { code: number }).code).toBe(1);
    expect((result as { stderr: string }).stderr).toMatch(/startup error: no SMTP server is configured/);
  });

  it('names the port when it is already in use', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', () => resolveListen()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'test', PORT: String(port), DATABASE_URL: `sqlite:${join(dir.path, 'busy.db')}` },
      }).catch((error: { code: number; stderr: string }) => error);
      expect((result as { code: number }).code).toBe(1);
      expect((result as { stderr: string }).stderr).toContain(`startup error: port ${port} is already in use on 127.0.0.1`);
    } finally {
      blocker.close();
    }
  });
});
