import { startSmtpSink } from '../../src/mail/smtp-sink.ts';
import { codeFrom } from '../../test/helpers/smtp.ts';

export interface MailSink {
  port: number;
  readonly received: number;
  /** Call before the request that sends the mail: resolves with the 6-digit code mailed to `email`. */
  expect(email: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * The shared SMTP sink (src/mail/smtp-sink.ts: smtp-server + mailparser on loopback) keeping no mail,
 * so it stays O(1) per mail over a long run: a mail only wakes whoever waits for its recipient.
 */
export async function startMailSink(): Promise<MailSink> {
  const sink = await startSmtpSink({ keep: 0 });
  return {
    port: sink.port,
    get received() {
      return sink.received;
    },
    expect: async (email, timeoutMs = 15_000) => codeFrom(await sink.nextMail(email, { timeoutMs })),
    close: () => sink.close(),
  };
}
