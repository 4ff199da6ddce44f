import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface MailSink {
  port: number;
  received: number;
  /** Call before the request that sends the mail: resolves with the 6-digit code mailed to `email`. */
  expect(email: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback that parses every mail (mailparser) and hands the code to whoever
 * waits for that address. Unlike the test catcher it keeps nothing, so it stays O(1) per mail over
 * a long run.
 */
export async function startMailSink(): Promise<MailSink> {
  const waiting = new Map<string, (code: string) => void>();
  const early = new Map<string, string>();
  const sink = { received: 0 } as MailSink;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          sink.received += 1;
          const code = /\b(\d{6})\b/.exec(parsed.text ?? '')?.[1];
          const to = [parsed.to].flat().flatMap((entry) => entry?.value.map((address) => (address.address ?? '').toLowerCase()) ?? []);
          for (const address of to) {
            if (!code) continue;
            const wake = waiting.get(address);
            if (wake) {
              waiting.delete(address);
              wake(code);
            } else early.set(address, code);
          }
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(sink, {
    port: (server.server.address() as AddressInfo).port,
    expect(email: string, timeoutMs = 15_000) {
      const address = email.toLowerCase();
      early.delete(address);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(address);
          reject(new Error(`no mail to ${address} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(address, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
