import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorConfigFromEnv } from '../../src/mail/connector-config.ts';
import { startDevMailbox } from '../../src/mail/dev-mailbox.ts';
import type { DevMailbox, ReceivedMail } from '../../src/mail/dev-mailbox.ts';
import { devMailboxRoutes } from '../../src/mail/dev-mailbox-routes.ts';
import { createSmtpMailer } from '../../src/mail/mailer.ts';
import type { Mailer } from '../../src/mail/mailer.ts';

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
  const app = Fastify();

  beforeAll(async () => {
    await app.register(devMailboxRoutes(mailbox));
    await app.ready();
    await mailer.send({
      to: 'dave@example.com',
      usageType: 'SignIn',
      data: { code: '654321', application: { name: '<script>alert(1)</script>' } },
    });
  });

  afterAll(() => app.close());

  it('serves an escaped, auto-refreshing HTML page with a sandboxed preview', async () => {
    const response = await app.inject({ method: 'GET', url: '/dev/mail?to=dave@example.com' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const page = response.body;
    expect(page).toContain('<meta http-equiv="refresh" content="5">');
    expect(page).toContain('<link rel="stylesheet" href="/dev/mail.css">');
    expect(page).toContain('dave@example.com');
    expect(page).toContain('654321');
    expect(page).toMatch(/<iframe sandbox="" [^>]*srcdoc="&lt;!DOCTYPE html&gt;/);
    expect(page).not.toContain('<script');
    expect(page).not.toContain('carol@example.com');
    expect(page).not.toMatch(/<style|style="/);
  });

  it('escapes the filter value', async () => {
    const response = await app.inject({ method: 'GET', url: `/dev/mail?to=${encodeURIComponent('"><script>x</script>')}` });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('<script>');
    expect(response.body).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('serves the stylesheet', async () => {
    const response = await app.inject({ method: 'GET', url: '/dev/mail.css' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/css/);
    expect(response.body).toContain('.mail');
  });

  it('serves JSON newest first, filtered by recipient', async () => {
    const all = await app.inject({ method: 'GET', url: '/dev/mail.json' });
    expect(all.statusCode).toBe(200);
    const { messages } = all.json<{ messages: ReceivedMail[] }>();
    expect(messages[0]?.to).toEqual(['dave@example.com']);

    const filtered = await app.inject({ method: 'GET', url: '/dev/mail.json?to=Dave@Example.com' });
    const body = filtered.json<{ messages: ReceivedMail[] }>();
    expect(body.messages).toHaveLength(1);
    expect(body.messages[0]?.text).toContain('654321');
  });
});
