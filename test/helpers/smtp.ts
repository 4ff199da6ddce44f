import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface CaughtMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
}

export interface SmtpCatcher {
  port: number;
  mails: CaughtMail[];
  /** While set, every recipient is refused: true or 'permanent' with 550 5.1.1, 'temporary' with 451. */
  refuse: boolean | 'permanent' | 'temporary';
  /** Delay before the server acknowledges a received mail (the mail is already in `mails`). */
  delayMs: number;
  /** Resolves with the newest mail to `to` that arrives after `after` mails were already there. */
  waitForMail(to: string, options?: { after?: number; timeoutMs?: number }): Promise<CaughtMail>;
  countFor(to: string): number;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on loopback that parses and keeps every mail. */
export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  const waiters = new Set<() => void>();
  const catcher = { refuse: false, delayMs: 0 } as SmtpCatcher;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (catcher.refuse) {
        const temporary = catcher.refuse === 'temporary';
        const error = new Error(temporary ? '4.3.0 try again later' : '5.1.1 mailbox unavailable') as Error & { responseCode: number };
        error.responseCode = temporary ? 451 : 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const to = [parsed.to].flat().flatMap((entry) => entry?.value.map((address) => address.address ?? '') ?? []);
          mails.push({
            to: to.map((address) => address.toLowerCase()),
            from: parsed.from?.text ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
          });
          for (const wake of waiters) wake();
          setTimeout(() => callback(), catcher.delayMs);
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const mailsFor = (to: string) => mails.filter((mail) => mail.to.includes(to.toLowerCase()));
  return Object.assign(catcher, {
    port: (server.server.address() as AddressInfo).port,
    mails,
    countFor: (to: string) => mailsFor(to).length,
    waitForMail(to: string, options: { after?: number; timeoutMs?: number } = {}) {
      const after = options.after ?? 0;
      return new Promise<CaughtMail>((resolve, reject) => {
        const check = () => {
          const list = mailsFor(to);
          if (list.length > after) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(list[list.length - 1]!);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to} arrived`));
        }, options.timeoutMs ?? 5000);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

export function codeFrom(mail: CaughtMail): string {
  const match = /\b(\d{6})\b/.exec(mail.text);
  if (!match) throw new Error(`no code in mail: ${mail.text}`);
  return match[1]!;
}
