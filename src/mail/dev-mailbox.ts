import { startSmtpSink, type ReceivedMail } from './smtp-sink.ts';

export type { ReceivedMail } from './smtp-sink.ts';

export interface DevMailbox {
  host: string;
  port: number;
  /** Newest first; `to` keeps only mail addressed to that recipient (case-insensitive). */
  messages(to?: string): ReceivedMail[];
  close(): Promise<void>;
}

/**
 * An SMTP server on loopback that keeps what it receives in memory, so development works
 * without a real mail account. Anyone who can reach the port can read the mail through the
 * page, which is why it only ever listens on a loopback address by default.
 */
export async function startDevMailbox(
  options: { host?: string; port?: number; maxMessages?: number } = {},
): Promise<DevMailbox> {
  const sink = await startSmtpSink({
    host: options.host ?? '127.0.0.1',
    port: options.port,
    keep: Math.max(1, options.maxMessages ?? 200),
    name: 'sesame-dev-mailbox',
    banner: 'Sesame dev mailbox',
  });
  return { host: sink.host, port: sink.port, messages: (to) => sink.messages(to), close: () => sink.close() };
}
