import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { createSesame } from '../../src/server.ts';
import { createAdapterFactory } from '../../src/oidc/adapter.ts';
import { purgeExpiredModels } from '../../src/db/oidc-models.ts';
import { freePort, tempDir } from '../helpers/sesame.ts';
import { startSmtpCatcher } from '../helpers/smtp.ts';
import { findForm, HttpBrowser } from '../helpers/browser.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createApplication } from '../../src/management/applications.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('server lifecycle', () => {
  it('answers /health with 503 when the database is gone', async () => {
    const dir = tempDir();
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: `sqlite:${join(dir.path, 'h.db')}`, LOG_LEVEL: 'silent' });
    const sesame = await createSesame(config, { devMailbox: false });
    expect((await sesame.app.inject({ url: '/health' })).statusCode).toBe(200);
    await sesame.db.destroy();
    const down = await sesame.app.inject({ url: '/health' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable' });
    await sesame.app.close();
    dir.remove();
  });

  it('stops cleanly on SIGTERM after finishing the requests in flight', async () => {
    const dir = tempDir();
    const databaseFile = join(dir.path, 's.db');
    const db = openSqlite(databaseFile);
    await migrate(db, join(ROOT, 'migrations/sqlite'));
    const app = await createApplication(db, { name: 'App', type: 'traditional', redirectUris: ['http://127.0.0.1:9/callback'] });
    await db.destroy();
    const smtp = await startSmtpCatcher();
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: String(port),
        ENDPOINT: `http://127.0.0.1:${port}`,
        DATABASE_URL: `sqlite:${databaseFile}`,
        LOG_LEVEL: 'silent',
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_FROM: 'no-reply@sesame.test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i += 1) {
      const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const config = await discover(`${base}/oidc`, app);
      const start = await startAuthorization(config, app.redirectUris[0]!);
      const browser = new HttpBrowser();
      const emailPage = await browser.follow(start.url);
      // "Send code" waits for the SMTP server, which holds its answer: the request is surely in flight.
      smtp.delayMs = 1000;
      const sending = browser.request(new URL(findForm(emailPage.body, '/email').action, emailPage.url).toString(), {
        form: { ...findForm(emailPage.body, '/email').fields, email: 'late@example.com' },
      });
      await smtp.waitForMail('late@example.com');
      child.kill('SIGTERM');
      const answered = await sending;
      expect(answered.status).toBe(303);
      expect(answered.location).toMatch(/\/code$/);
      expect(await exited).toBe(0);
      expect(stderr).toContain('SIGTERM received: shutting down');
      await expect(fetch(`${base}/health`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      await smtp.close();
      dir.remove();
    }
  });

  it('forgets expired OIDC artifacts and purges them', async () => {
    const dir = tempDir();
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: `sqlite:${join(dir.path, 'p.db')}`, LOG_LEVEL: 'silent' });
    const sesame = await createSesame(config, { devMailbox: false });
    let now = Date.now();
    const sessions = createAdapterFactory(sesame.db, () => now)('Session');
    await sessions.upsert('s1', { accountId: 'u1', uid: 'uid-1' } as never, 60);
    expect(await sessions.find('s1')).toMatchObject({ accountId: 'u1' });
    expect(await sessions.findByUid('uid-1')).toBeTruthy();
    now += 61_000;
    expect(await sessions.find('s1')).toBeUndefined();
    expect(await purgeExpiredModels(sesame.db, now)).toBe(1);
    expect(await sesame.db.selectFrom('oidc_model_instances').select('id').where('id', '=', 's1').executeTakeFirst()).toBeUndefined();
    await sesame.app.close();
    await sesame.db.destroy();
    dir.remove();
  });
});
