import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { startSmtpCatcher, type SmtpCatcher } from '../helpers/smtp.ts';
import { startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { sesameCli } from '../helpers/cli.ts';


describe('the SMTP connector (Logto format)', () => {
  let smtp: SmtpCatcher;
  let sesame: TestSesame;
  const dir = tempDir('sesame-connector-');

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    // Started with the dev mailbox: the stored connector must take over without a restart.
    sesame = await startTestSesame({ dir: dir.path, sesame: { devMailbox: true } });
  });
  afterAll(async () => {
    await sesame?.stop();
    await smtp?.close();
    dir.remove();
  });

  const cli = (args: string[]) => sesameCli(args, { cwd: dir.path, database: sesame.databaseUrl });

  it('refuses an invalid config naming the field, and stores a valid one that the running server uses at once', async () => {
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, JSON.stringify({ host: '127.0.0.1', port: 'abc', fromEmail: 'a@example.com' }));
    const refused = await cli(['connector', 'set', 'smtp', '--file', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/port/);

    const good = join(dir.path, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        host: '127.0.0.1',
        port: String(smtp.port),
        fromEmail: 'Shop <no-reply@shop.example>',
        secure: false,
        templates: [
          { usageType: 'Generic', contentType: 'text/plain', subject: 'Code for {{application.name}}', content: 'Your code: {{code}} ({{user.primaryEmail}})' },
        ],
      }),
    );
    const saved = await cli(['connector', 'set', 'smtp', '--file', good]);
    expect(saved.code, saved.stderr).toBe(0);

    const app = await sesame.registerApp({ name: 'Bookshop' });
    const config = await discover(sesame.issuer, app);
    const start = await startAuthorization(config, app.redirectUris[0]!);
    const browser = new HttpBrowser();
    const page = await browser.follow(start.url);
    const email = 'connector@example.com';
    const codePage = await browser.submit(page, '/email', { email });
    expect(codePage.status).toBe(200);
    const mail = await smtp.waitForMail(email);
    expect(mail.subject).toBe('Code for Bookshop');
    expect(mail.text).toMatch(/^Your code: \d{6} \(connector@example\.com\)/);
    expect(mail.from).toContain('no-reply@shop.example');

    const shown = await cli(['connector', 'show']);
    expect(shown.stdout).toContain('"host": "127.0.0.1"');
  });

  it('sends a test email and prints the SMTP answer, or the exact error', async () => {
    const ok = await cli(['connector', 'test', '--to', 'ops@example.com']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/SMTP server answered: 250/);
    await smtp.waitForMail('ops@example.com');

    smtp.refuse = true;
    const refused = await cli(['connector', 'test', '--to', 'ops@example.com']);
    smtp.refuse = false;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/550/);

    const bad = await cli(['connector', 'test', '--to', 'not-an-address']);
    expect(bad.code).toBe(2);
  });
});
