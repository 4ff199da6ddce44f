import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseSmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import type { SmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import { createSmtpMailer, MailDeliveryError } from '../../src/mail/mailer.ts';
import type { Mailer } from '../../src/mail/mailer.ts';
import { InvalidMailError } from '../../src/mail/errors.ts';
import { createThreadedMailer } from '../../src/mail/threaded-mailer.ts';

const templatesDir = fileURLToPath(new URL('../../templates/email', import.meta.url));

interface TestSmtp {
  port: number;
  received: { envelopeFrom: string; envelopeTo: string[]; mail: ParsedMail; auth?: string }[];
  close(): Promise<void>;
}

async function startSmtp(options: Partial<SMTPServerOptions> = {}): Promise<TestSmtp> {
  const received: TestSmtp['received'] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      if (auth.username === 'sesame' && auth.password === 'open sesame') callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            mail,
            ...(typeof session.user === 'string' && { auth: session.user }),
          });
          callback();
        })
        .catch(callback);
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function connector(port: number, extra: Record<string, unknown> = {}): SmtpConnectorConfig {
  const result = parseSmtpConnectorConfig({ host: '127.0.0.1', port, fromEmail: 'Bookstore <no-reply@example.com>', ...extra });
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

/** A server that answers every RCPT TO with 550 (no such mailbox). */
const refusingEveryRecipient: Partial<SMTPServerOptions> = {
  onRcptTo(_address, _session, callback) {
    callback(Object.assign(new Error('5.1.1 Mailbox does not exist'), { responseCode: 550 }));
  },
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

function track(mailer: Mailer): Mailer {
  cleanup.push(() => mailer.close());
  return mailer;
}

const data = { code: '739201', application: { name: 'Bookstore' }, user: { primaryEmail: 'ann@example.com' }, expiresInMinutes: 10 };

describe('createSmtpMailer over a real SMTP server', () => {
  it('delivers a default-template sign-in mail with code in text and html', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const mailer = track(createSmtpMailer(connector(smtp.port), { templatesDir }));

    const sent = await mailer.send({ to: 'Ann@Example.com', usageType: 'SignIn', data });

    // nodemailer lower-cases the domain of the envelope address.
    expect(sent.accepted).toEqual(['Ann@example.com']);
    expect(sent.rejected).toEqual([]);
    expect(sent.response).toMatch(/^250/);
    expect(sent.messageId).toMatch(/^<.+@.+>$/);
    expect(smtp.received).toHaveLength(1);
    const { mail, envelopeFrom, envelopeTo } = smtp.received[0]!;
    expect(envelopeFrom).toBe('no-reply@example.com');
    expect(envelopeTo).toEqual(['Ann@example.com']);
    expect(mail.from?.value[0]).toEqual({ name: 'Bookstore', address: 'no-reply@example.com' });
    expect(mail.subject).toBe('Your sign-in code for Bookstore');
    expect(mail.text).toContain('739201');
    expect(mail.html).toContain('739201');
    expect(mail.text).toContain('This code expires in 10 minutes');
  });

  it('sends a text/plain connector template as text only, with custom headers, reply-to and auth', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const config = connector(smtp.port, {
      auth: { user: 'sesame', pass: 'open sesame' },
      replyTo: 'support@example.com',
      customHeaders: { 'X-Sesame-Test': 'yes' },
      templates: [{ usageType: 'Register', contentType: 'text/plain', subject: 'Welcome to {{application.name}}', content: 'Code: {{code}}' }],
    });
    const mailer = track(createSmtpMailer(config, { templatesDir, pool: false }));
    await mailer.verify();
    await mailer.send({ to: 'bob@example.com', usageType: 'Register', data });

    const { mail, auth } = smtp.received[0]!;
    expect(auth).toBe('sesame');
    expect(mail.subject).toBe('Welcome to Bookstore');
    expect(mail.text?.trim()).toBe('Code: 739201');
    expect(mail.html).toBe(false);
    expect(mail.replyTo?.text).toBe('support@example.com');
    expect(mail.headers.get('x-sesame-test')).toBe('yes');
  });

  it('throws MailDeliveryError with the 550 reply when the server refuses the recipient', async () => {
    const smtp = await startSmtp(refusingEveryRecipient);
    cleanup.push(smtp.close);
    const mailer = track(createSmtpMailer(connector(smtp.port), { templatesDir }));

    const error = await mailer.send({ to: 'ghost@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    const delivery = error as MailDeliveryError;
    expect(delivery.responseCode).toBe(550);
    expect(delivery.permanent).toBe(true);
    expect(delivery.response).toContain('5.1.1 Mailbox does not exist');
    expect(delivery.message).toContain('550 5.1.1 Mailbox does not exist');
    expect(delivery.recipientRefused).toBe(true);
    expect(delivery.certainlyNotSent).toBe(true);
    expect(smtp.received).toHaveLength(0);
  });

  it('cannot tell whether a mail left when the server goes silent after the message (the send must count)', async () => {
    const smtp = await startSmtp({
      onData(stream, _session, callback) {
        stream.resume();
        // Swallow the message and never answer: the client times out after DATA.
        stream.on('end', () => setTimeout(() => callback(), 5_000));
      },
    });
    cleanup.push(smtp.close);
    const mailer = track(createSmtpMailer(connector(smtp.port, { socketTimeout: 500 }), { templatesDir, pool: false }));
    const error = await mailer.send({ to: 'slow@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).certainlyNotSent).toBe(false);
    expect((error as MailDeliveryError).recipientRefused).toBe(false);
  });

  it('throws MailDeliveryError when authentication is refused', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const mailer = track(createSmtpMailer(connector(smtp.port, { auth: { user: 'sesame', pass: 'wrong' } }), { templatesDir }));
    const error = await mailer.verify().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).code).toBe('EAUTH');
    expect((error as MailDeliveryError).message).toContain('535');
  });
});

describe('createThreadedMailer: the same mailer on a thread of its own', () => {
  it('delivers the mail from the thread', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const mailer = createThreadedMailer(connector(smtp.port), { templatesDir });
    track(mailer);
    const sent = await mailer.send({ to: 'ann@example.com', usageType: 'SignIn', data });
    expect(mailer.onThread).toBe(true);
    expect(sent.accepted).toEqual(['ann@example.com']);
    expect(sent.messageId).toMatch(/^<.+@.+>$/);
    expect(smtp.received[0]!.mail.text).toContain('739201');
  });

  it('gives back the same error classes and details: a refused recipient, an unusable address, a refused login', async () => {
    const smtp = await startSmtp(refusingEveryRecipient);
    cleanup.push(smtp.close);
    const mailer = track(createThreadedMailer(connector(smtp.port), { templatesDir }));
    const refused = await mailer.send({ to: 'ghost@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MailDeliveryError);
    expect(refused).toMatchObject({ responseCode: 550, permanent: true, recipientRefused: true, certainlyNotSent: true });
    expect((refused as Error).message).toContain('550 5.1.1 Mailbox does not exist');

    const invalid = await mailer.send({ to: 'a@example.com, b@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidMailError);

    const wrongLogin = track(createThreadedMailer(connector(smtp.port, { auth: { user: 'sesame', pass: 'wrong' } }), { templatesDir }));
    const login = await wrongLogin.verify().catch((e: unknown) => e);
    expect(login).toBeInstanceOf(MailDeliveryError);
    expect(login).toMatchObject({ responseCode: 535, certainlyNotSent: true });
    expect(smtp.received).toHaveLength(0);
  });
});

describe('an unreachable or silent server', () => {
  let silent: Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve())));

  it('fails fast with MailDeliveryError when nothing listens on the port', async () => {
    // Take a free port, then free it again so the connection is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const mailer = track(createSmtpMailer(connector(port), { templatesDir }));
    const started = Date.now();
    const error = await mailer.send({ to: 'ann@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).message).toContain(`127.0.0.1:${port}`);
    expect((error as MailDeliveryError).certainlyNotSent).toBe(true);
  });

  it('times out with MailDeliveryError when the server accepts but never greets', async () => {
    const sockets = new Set<import('node:net').Socket>();
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    cleanup.push(async () => {
      for (const socket of sockets) socket.destroy();
    });

    const mailer = track(createSmtpMailer(connector(port, { connectionTimeout: 800, greetingTimeout: 800, socketTimeout: 1500 }), { templatesDir }));
    const started = Date.now();
    const error = await mailer.send({ to: 'ann@example.com', usageType: 'SignIn', data }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).code).toBe('ETIMEDOUT');
    // No greeting means no message was handed over: certain.
    expect((error as MailDeliveryError).certainlyNotSent).toBe(true);
  });
});
