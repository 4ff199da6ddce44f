import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AddressObject } from 'mailparser';

export interface ReceivedMail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  date: string;
}

export interface DevMailbox {
  host: string;
  port: number;
  /** Newest first; `to` keeps only mail addressed to that recipient (case-insensitive). */
  messages(to?: string): ReceivedMail[];
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 5 * 1024 * 1024;

function addressText(value: AddressObject | AddressObject[] | undefined): string {
  if (!value) return '';
  return (Array.isArray(value) ? value : [value]).map((v) => v.text).join(', ');
}

/**
 * An SMTP server on loopback that keeps what it receives in memory, so development works
 * without a real mail account. Anyone who can reach the port can read the mail through the
 * page, which is why it only ever listens on a loopback address by default.
 */
export async function startDevMailbox(
  options: { host?: string; port?: number; maxMessages?: number } = {},
): Promise<DevMailbox> {
  const host = options.host ?? '127.0.0.1';
  const maxMessages = Math.max(1, options.maxMessages ?? 200);
  const received: ReceivedMail[] = [];
  // Imported here, not at the top, so a production build never loads an SMTP server or a parser.
  const [{ SMTPServer }, { simpleParser }] = await Promise.all([import('smtp-server'), import('mailparser')]);

  const server = new SMTPServer({
    name: 'sesame-dev-mailbox',
    banner: 'Sesame dev mailbox',
    authOptional: true,
    // Any credentials are fine: this is a local sink, and refusing them would break a configured client.
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'dev' });
    },
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    size: MAX_MESSAGE_BYTES,
    logger: false,
    // Pooled clients keep connections open; do not let close() wait the 30 s default for them.
    closeTimeout: 500,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          if (stream.sizeExceeded) {
            callback(Object.assign(new Error('Message too large for the dev mailbox'), { responseCode: 552 }));
            return;
          }
          const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
          const mail: ReceivedMail = {
            id: randomUUID(),
            from: addressText(parsed.from) || (session.envelope.mailFrom ? session.envelope.mailFrom.address : ''),
            to: envelopeTo.length > 0 ? envelopeTo : addressText(parsed.to).split(/,\s*/).filter(Boolean),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            ...(typeof parsed.html === 'string' && { html: parsed.html }),
            date: new Date().toISOString(),
          };
          received.unshift(mail);
          received.length = Math.min(received.length, maxMessages);
          callback();
        })
        .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Keep a late socket error from crashing the process; the mailbox is a development aid.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    host,
    port,
    messages(to) {
      if (to === undefined || to.trim() === '') return received.slice();
      const wanted = to.trim().toLowerCase();
      return received.filter((m) => m.to.some((address) => address.toLowerCase() === wanted));
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
