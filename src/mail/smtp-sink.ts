import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AddressObject } from 'mailparser';

/** One mail as the sink parsed it. */
export interface ReceivedMail {
  id: string;
  from: string;
  /** The envelope recipients (RCPT TO), as the client wrote them. */
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** When the sink received it (ISO 8601). */
  date: string;
}

/** While set, every recipient is refused: true or 'permanent' with 550 5.1.1, 'temporary' with 451 4.3.0. */
export type Refusal = boolean | 'permanent' | 'temporary';

export interface SmtpSinkOptions {
  /** Default 127.0.0.1: anyone who can reach the port could read what the owner shows of the mail. */
  host?: string;
  /** Default 0, a free port. */
  port?: number;
  /** How many mails to keep, the oldest dropped first (default: all). 0 keeps none: count and wait only. */
  keep?: number;
  /** Greeting name and banner. */
  name?: string;
  banner?: string;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** The kept mails, oldest first. */
  readonly mails: readonly ReceivedMail[];
  /** Every mail accepted since start, kept or not. */
  readonly received: number;
  refuse: Refusal;
  /** Delay before the server acknowledges a mail (the mail is already kept and delivered to waiters). */
  delayMs: number;
  /** Kept mails newest first; `to` keeps only those addressed to that recipient (case-insensitive). */
  messages(to?: string): ReceivedMail[];
  /** How many kept mails are addressed to `to`. */
  countFor(to: string): number;
  /** Resolves with the newest kept mail to `to` once more than `after` (default 0) are there. */
  waitForMail(to: string, options?: { after?: number; timeoutMs?: number }): Promise<ReceivedMail>;
  /** Resolves with the next mail to `to` that arrives after this call (works with `keep: 0`). */
  nextMail(to: string, options?: { timeoutMs?: number }): Promise<ReceivedMail>;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 5 * 1024 * 1024;

function addressText(value: AddressObject | AddressObject[] | undefined): string {
  if (!value) return '';
  return (Array.isArray(value) ? value : [value]).map((v) => v.text).join(', ');
}

function waitFor<T>(what: string, timeoutMs: number, register: (resolve: (value: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unregister = () => {};
    const timer = setTimeout(() => {
      unregister();
      reject(new Error(`no mail to ${what} arrived within ${timeoutMs} ms`));
    }, timeoutMs);
    unregister = register((value) => {
      clearTimeout(timer);
      unregister();
      resolve(value);
    });
  });
}

type Mailbox = Omit<SmtpSink, 'host' | 'port' | 'refuse' | 'delayMs' | 'close'> & { add(mail: ReceivedMail): void };

/** Where the sink keeps mails and who waits for them (waiters per recipient: O(1) per mail under load). */
function createMailbox(keepOption: number | undefined): Mailbox {
  const keep = Math.max(0, keepOption ?? Infinity);
  const mails: ReceivedMail[] = [];
  const waiters = new Map<string, Set<(mail: ReceivedMail) => void>>();
  let received = 0;

  const listen = (to: string, wake: (mail: ReceivedMail) => void) => {
    const address = to.trim().toLowerCase();
    const set = waiters.get(address) ?? new Set();
    waiters.set(address, set.add(wake));
    return () => {
      set.delete(wake);
      if (set.size === 0 && waiters.get(address) === set) waiters.delete(address);
    };
  };
  const mailsFor = (to: string) => {
    const wanted = to.trim().toLowerCase();
    return mails.filter((mail) => mail.to.some((address) => address.toLowerCase() === wanted));
  };

  return {
    mails,
    get received() {
      return received;
    },
    add(mail) {
      received += 1;
      if (keep > 0) {
        mails.push(mail);
        if (mails.length > keep) mails.splice(0, mails.length - keep);
      }
      for (const address of new Set(mail.to.map((to) => to.toLowerCase()))) {
        for (const wake of [...(waiters.get(address) ?? [])]) wake(mail);
      }
    },
    messages: (to) => (to === undefined || to.trim() === '' ? mails.slice() : mailsFor(to)).reverse(),
    countFor: (to) => mailsFor(to).length,
    waitForMail(to, { after = 0, timeoutMs = 5000 } = {}) {
      return waitFor(to, timeoutMs, (resolve) => {
        const check = () => {
          const list = mailsFor(to);
          if (list.length > after) resolve(list[list.length - 1]!);
        };
        const unregister = listen(to, check);
        // Already there: resolve on the next tick, once the caller's unregister exists.
        queueMicrotask(check);
        return unregister;
      });
    },
    nextMail: (to, { timeoutMs = 5000 } = {}) => waitFor(to, timeoutMs, (resolve) => listen(to, resolve)),
  };
}

/** The mail as the sink keeps it: envelope recipients first (what a relay would deliver to). */
function receivedMail(parsed: import('mailparser').ParsedMail, envelope: { mailFrom: false | { address: string }; rcptTo: { address: string }[] }): ReceivedMail {
  const envelopeTo = envelope.rcptTo.map((r) => r.address);
  return {
    id: randomUUID(),
    from: addressText(parsed.from) || (envelope.mailFrom ? envelope.mailFrom.address : ''),
    to: envelopeTo.length > 0 ? envelopeTo : addressText(parsed.to).split(/,\s*/).filter(Boolean),
    subject: parsed.subject ?? '',
    text: parsed.text ?? '',
    ...(typeof parsed.html === 'string' && { html: parsed.html }),
    date: new Date().toISOString(),
  };
}

/**
 * A real SMTP server (smtp-server) that parses every mail (mailparser), keeps the newest, and wakes
 * whoever waits for a recipient. The dev mailbox, the tests' catcher and the bench's sink are this
 * module with different options. It accepts any credentials (a configured client must not fail on
 * a local sink) and refuses mail over 5 MiB with 552.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const mailbox = createMailbox(options.keep);
  // Imported here, not at the top, so a production build never loads an SMTP server or a parser.
  const [{ SMTPServer }, { simpleParser }] = await Promise.all([import('smtp-server'), import('mailparser')]);
  const control = { refuse: false as Refusal, delayMs: 0 };

  const server = new SMTPServer({
    ...(options.name !== undefined && { name: options.name }),
    ...(options.banner !== undefined && { banner: options.banner }),
    authOptional: true,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'sink' });
    },
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    size: MAX_MESSAGE_BYTES,
    logger: false,
    // Pooled clients keep connections open; do not let close() wait the 30 s default for them.
    closeTimeout: 500,
    onRcptTo(_address, _session, callback) {
      if (!control.refuse) return callback();
      const temporary = control.refuse === 'temporary';
      const error = new Error(temporary ? '4.3.0 try again later' : '5.1.1 mailbox unavailable') as Error & { responseCode: number };
      error.responseCode = temporary ? 451 : 550;
      callback(error);
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          if (stream.sizeExceeded) return callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
          mailbox.add(receivedMail(parsed, session.envelope));
          if (control.delayMs > 0) setTimeout(() => callback(), control.delayMs);
          else callback();
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
  // A late socket error (a client hanging up mid-mail) must not crash the process.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    host,
    port,
    mails: mailbox.mails,
    get received() {
      return mailbox.received;
    },
    get refuse() {
      return control.refuse;
    },
    set refuse(value: Refusal) {
      control.refuse = value;
    },
    get delayMs() {
      return control.delayMs;
    },
    set delayMs(value: number) {
      control.delayMs = value;
    },
    messages: mailbox.messages,
    countFor: mailbox.countFor,
    waitForMail: mailbox.waitForMail,
    nextMail: mailbox.nextMail,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
