import { fileURLToPath } from 'node:url';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorConfigFromEnv } from '../../src/mail/connector-config.ts';
import { startDevMailbox } from '../../src/mail/dev-mailbox.ts';
import type { DevMailbox, ReceivedMail } from '../../src/mail/dev-mailbox.ts';
import { createSmtpMailer } from '../../src/mail/mailer.ts';
import type { Mailer } from '../../src/mail/mailer.ts';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';

const templatesDir = fileURLToPath(new URL('../../templates/email', import.meta.url));

let mailbox: DevMailbox;
let mailer: Mailer;

beforeAll(async () => {
  mailbox = await startDevMailbox({ maxMessages: 3 });
  mailer = createSmtpMailer(connectorConfigFromEnv({ host: mailbox.host, port: mailbox.port, secure: false, from: 'Sesame <no-reply@sesame.test>' }), { templatesDir });
});

afterAll(async () => {
  await mailer.close();
  await mailbox.close();
});

describe('dev mailbox', () => {
  it('listens on loopback on a random port', () => {
    expect(mailbox.host).toBe('127.0.0.1');
    expect(mailbox.port).toBeGreaterThan(0);
  });

  it('receives mail sent to it and filters by recipient', async () => {
    await mailer.send({ to: 'ann@example.com', usageType: 'SignIn', data: { code: '111111', application: { name: 'Bookstore' }, expiresInMinutes: 10 } });
    await mailer.send({ to: 'bob@example.com', usageType: 'Register', data: { code: '222222', application: { name: 'Bookstore' } } });

    const all = mailbox.messages();
    expect(all.map((m) => m.to)).toEqual([['bob@example.com'], ['ann@example.com']]);

    const ann = mailbox.messages('ANN@Example.COM');
    expect(ann).toHaveLength(1);
    const [mail] = ann as [ReceivedMail];
    expect(mail.subject).toBe('Your sign-in code for Bookstore');
    expect(mail.from).toContain('no-reply@sesame.test');
    expect(mail.text).toContain('111111');
    expect(mail.html).toContain('111111');
    expect(Date.parse(mail.date)).not.toBeNaN();
    expect(mail.id).toMatch(/^[0-9a-f-]{36}$/);

    expect(mailbox.messages('nobody@example.com')).toEqual([]);
  });

  it('keeps only the newest maxMessages', async () => {
    await mailer.send({ to: 'carol@example.com', usageType: 'Generic', data: { subject: 'Notice 1', message: 'one' } });
    await mailer.send({ to: 'carol@example.com', usageType: 'Generic', data: { subject: 'Notice 2', message: 'two' } });
    expect(mailbox.messages().map((m) => m.subject)).toEqual(['Notice 2', 'Notice 1', 'Confirm your email for Bookstore']);
  });
});

describe('dev mailbox routes', () => {
  // The real app, so the page is checked under the security headers every page of ours carries.
  let sesame: TestSesame;
  let pageMailer: Mailer;

  beforeAll(async () => {
    sesame = await startTestSesame({ sesame: { devMailbox: true } });
    const { host, port } = sesame.devMailbox ?? {};
    if (!host || !port) throw new Error('the dev mailbox did not start');
    pageMailer = createSmtpMailer(connectorConfigFromEnv({ host, port, secure: false, from: 'Sesame <no-reply@sesame.test>' }), { templatesDir });
    await pageMailer.send({ to: 'carol@example.com', usageType: 'Generic', data: { subject: 'Notice', message: 'one' } });
    await pageMailer.send({
      to: 'dave@example.com',
      usageType: 'SignIn',
      data: { code: '654321', application: { name: '<script>alert(1)</script>' } },
    });
  });

  afterAll(async () => {
    await pageMailer?.close();
    await sesame?.stop();
    if (sesame) rmSync(sesame.dir, { recursive: true, force: true });
  });

  it('serves an escaped, auto-refreshing HTML page with a sandboxed preview under our CSP', async () => {
    const response = await sesame.app.inject({ method: 'GET', url: '/dev/mail?to=dave@example.com' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    const page = response.body;
    expect(page).toContain('<meta http-equiv="refresh" content="5">');
    expect(page).toContain('<link rel="stylesheet" href="/assets/sesame.css">');
    expect(page).toContain('<link rel="stylesheet" href="/assets/dev-mail.css">');
    expect(page).toContain('dave@example.com');
    expect(page).toMatch(/<article class="mail" id="mail-[0-9a-f-]{36}">/);
    expect(page).toContain('<span class="mail-code" title="One-time code found in this mail">654321</span>');
    expect(page).toMatch(/<iframe sandbox="" [^>]*srcdoc="&lt;!DOCTYPE html&gt;/);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The only script is our own file; nothing inline.
    expect(page.match(/<script\b[^>]*>/g)).toEqual(['<script src="/assets/sesame.js" defer>']);
    expect(page).toContain('href="/dev/mail.json?to=dave%40example.com"');
    expect(page).not.toContain('carol@example.com');
    expect(page).not.toMatch(/<style|style="/);
  });

  it('escapes the filter value', async () => {
    const response = await sesame.app.inject({ method: 'GET', url: `/dev/mail?to=${encodeURIComponent('"><script>x</script>')}` });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('<script>');
    expect(response.body).toContain('&quot;&gt;&lt;script&gt;');
    expect(response.body).toContain('No mail for &quot;&gt;&lt;script&gt;x&lt;/script&gt; yet.');
  });

  it('serves the stylesheet', async () => {
    const response = await sesame.app.inject({ method: 'GET', url: '/assets/dev-mail.css' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/css/);
    expect(response.body).toContain('.mail');
  });

  it('serves JSON newest first, filtered by recipient', async () => {
    const all = await sesame.app.inject({ method: 'GET', url: '/dev/mail.json' });
    expect(all.statusCode).toBe(200);
    const { messages } = all.json<{ messages: ReceivedMail[] }>();
    expect(messages[0]?.to).toEqual(['dave@example.com']);

    const filtered = await sesame.app.inject({ method: 'GET', url: '/dev/mail.json?to=Dave@Example.com' });
    const body = filtered.json<{ messages: ReceivedMail[] }>();
    expect(body.messages).toHaveLength(1);
    expect(body.messages[0]?.text).toContain('654321');
  });
});
