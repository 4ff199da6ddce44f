import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../../src/mail/smtp-sink.ts';

/** A mail the catcher received: the shared sink's mail (`to` is the envelope's recipients). */
export type CaughtMail = ReceivedMail;

/**
 * The tests' SMTP server: src/mail/smtp-sink.ts keeping every mail, oldest first in `mails`.
 * `refuse` and `delayMs` can be changed at any time; `waitForMail(to, { after })` resolves with the
 * newest mail to `to` once more than `after` are there.
 */
export type SmtpCatcher = SmtpSink;

/** A real SMTP server (smtp-server) on loopback that parses and keeps every mail. */
export function startSmtpCatcher(): Promise<SmtpCatcher> {
  return startSmtpSink();
}

export function codeFrom(mail: CaughtMail): string {
  const match = /\b(\d{6})\b/.exec(mail.text);
  if (!match) throw new Error(`no code in mail: ${mail.text}`);
  return match[1]!;
}
