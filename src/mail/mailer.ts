import nodemailer from 'nodemailer';
import type { SmtpConnectorConfig, UsageType } from './connector-config.ts';
import { isSingleMailbox } from '../lib/validation.ts';
import { InvalidMailError, MailDeliveryError } from './errors.ts';
import { renderMail } from './render.ts';
import type { MailData } from './render.ts';

export { InvalidMailError, MailDeliveryError } from './errors.ts';
export type { MailDeliveryDetails } from './errors.ts';

export interface OutgoingMail {
  to: string;
  usageType: UsageType;
  data: MailData;
}

export interface SentMail {
  messageId: string;
  response: string;
  accepted: string[];
  rejected: string[];
}

export interface Mailer {
  /** Throws InvalidMailError (nothing sent) or MailDeliveryError (refused, unreachable, timed out). */
  send(mail: OutgoingMail): Promise<SentMail>;
  /** Connects and authenticates once; throws MailDeliveryError when that fails. */
  verify(): Promise<void>;
  close(): Promise<void>;
}

export interface SmtpMailerOptions {
  templatesDir: string;
  /** Reuse connections between sends (default true). */
  pool?: boolean;
  /** Parallel SMTP connections in the pool (default 10): with 3, a burst of sign-ins queued for seconds. */
  maxConnections?: number;
  /** Upper bound for one send, queueing included; defaults to the sum of the connector's three timeouts. */
  sendTimeoutMs?: number;
}

// Control characters in an address are never legitimate and CR/LF would start a new header.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function assertRecipient(to: unknown): asserts to is string {
  if (typeof to !== 'string' || CONTROL_CHARACTERS.test(to)) {
    throw new InvalidMailError('The recipient must be an email address without line breaks');
  }
  // One mailbox only: "victim@x.com, attacker@y.com" typed into a form must not copy the code elsewhere.
  if (!isSingleMailbox(to)) {
    throw new InvalidMailError('The recipient must be exactly one email address');
  }
}

interface SmtpErrorLike {
  message?: unknown;
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
  permanent?: unknown;
  name?: unknown;
  rejectedErrors?: unknown;
  timeoutType?: unknown;
  originalCode?: unknown;
}

/** nodemailer codes for failures that come before any message data is sent. */
const BEFORE_MESSAGE_CODES = new Set(['EAUTH', 'ENOAUTH', 'EDNS', 'ETLS', 'EENVELOPE', 'ECONFIG', 'EREQUIRETLS']);
const BEFORE_MESSAGE_TIMEOUTS = new Set(['CONNECTION_TIMEOUT', 'GREETING_TIMEOUT', 'DNS_TIMEOUT']);
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * Whether a failed send certainly did not reach the server. Our own deadline, a socket timeout or a
 * connection dropped mid-transfer say nothing about whether the server already accepted the mail.
 */
function certainlyNotSent(e: SmtpErrorLike, code: string | undefined, responseCode: number | undefined, aborted: boolean): boolean {
  if (aborted) return false;
  if (responseCode !== undefined) return true;
  if (code !== undefined && BEFORE_MESSAGE_CODES.has(code)) return true;
  if (code === 'ETIMEDOUT') return typeof e.timeoutType === 'string' && BEFORE_MESSAGE_TIMEOUTS.has(e.timeoutType);
  return typeof e.originalCode === 'string' && CONNECT_ERRORS.has(e.originalCode);
}

function asAddressString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'address' in value && typeof value.address === 'string') return value.address;
  return String(value);
}

function toDeliveryError(error: unknown, server: string, timeoutMs: number): MailDeliveryError {
  if (error instanceof MailDeliveryError) return error;
  let e: SmtpErrorLike = error && typeof error === 'object' ? (error as SmtpErrorLike) : {};
  // A refused recipient comes back as EENVELOPE; the per-recipient error carries the server's reply.
  if (e.responseCode === undefined && Array.isArray(e.rejectedErrors) && e.rejectedErrors[0] && typeof e.rejectedErrors[0] === 'object') {
    e = { ...(e.rejectedErrors[0] as SmtpErrorLike), code: e.code };
  }
  const aborted = e.name === 'AbortError' || e.code === 'EABORT';
  // Our own deadline is the only abort signal we pass, so an abort is a timeout.
  const code = aborted ? 'ETIMEDOUT' : typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const response = typeof e.response === 'string' ? e.response.trim() : undefined;
  const command = typeof e.command === 'string' ? e.command : undefined;
  const permanent = typeof e.permanent === 'boolean' ? e.permanent : responseCode !== undefined ? responseCode >= 500 : undefined;
  const detail = typeof e.message === 'string' ? e.message : String(error);

  let message: string;
  if (aborted) {
    message = `The mail server at ${server} did not finish the delivery within ${Math.round(timeoutMs / 1000)} s`;
  } else if (code === 'ETIMEDOUT') {
    message = `The mail server at ${server} did not answer in time`;
  } else if (code === 'EAUTH' || code === 'ENOAUTH') {
    message = `The mail server at ${server} refused the login: ${response ?? detail}`;
  } else if (response) {
    const verb = command?.toUpperCase() ?? '';
    const what = verb.startsWith('RCPT') ? 'the recipient' : verb.startsWith('MAIL') ? 'the sender' : 'the mail';
    message = `The mail server at ${server} refused ${what}: ${response}`;
  } else if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'EDNS' || code === 'ETLS') {
    message = `Could not reach the mail server at ${server}: ${detail}`;
  } else {
    message = `Sending mail through ${server} failed: ${detail}`;
  }
  const details = {
    ...(code !== undefined && { code }),
    ...(responseCode !== undefined && { responseCode }),
    ...(response !== undefined && { response }),
    ...(command !== undefined && { command }),
    ...(permanent !== undefined && { permanent }),
    certainlyNotSent: certainlyNotSent(e, code, responseCode, aborted),
  };
  return new MailDeliveryError(message, details, { cause: error });
}

export function createSmtpMailer(config: SmtpConnectorConfig, options: SmtpMailerOptions): Mailer {
  const pool = options.pool ?? true;
  const server = `${config.host}:${config.port}`;
  const sendTimeoutMs = options.sendTimeoutMs ?? config.connectionTimeout + config.greetingTimeout + config.socketTimeout;
  const transportOptions = {
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTLS,
    ignoreTLS: config.ignoreTLS,
    ...(config.tls && { tls: config.tls }),
    ...(config.auth && { auth: { user: config.auth.user, pass: config.auth.pass } }),
    connectionTimeout: config.connectionTimeout,
    greetingTimeout: config.greetingTimeout,
    socketTimeout: config.socketTimeout,
    // nodemailer waits 30 s for DNS by default; a wrong SMTP_HOST should fail as fast as a closed port.
    dnsTimeout: config.connectionTimeout,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  const transporter = pool
    ? nodemailer.createTransport({ ...transportOptions, pool: true, maxConnections: options.maxConnections ?? 10, maxMessages: 1000 })
    : nodemailer.createTransport(transportOptions);

  return {
    async send(mail) {
      assertRecipient(mail.to);
      const rendered = await renderMail(config, mail.usageType, mail.data, options.templatesDir);
      try {
        const info = await transporter.sendMail({
          from: config.fromEmail,
          to: mail.to,
          ...(config.replyTo && { replyTo: config.replyTo }),
          subject: rendered.subject,
          text: rendered.text,
          ...(rendered.html !== undefined && { html: rendered.html }),
          headers: config.customHeaders,
          signal: AbortSignal.timeout(sendTimeoutMs),
        });
        const sent: SentMail = {
          messageId: String(info.messageId ?? ''),
          response: String(info.response ?? ''),
          accepted: (info.accepted ?? []).map(asAddressString),
          rejected: (info.rejected ?? []).map(asAddressString),
        };
        if (sent.accepted.length === 0 || sent.rejected.length > 0) {
          throw toDeliveryError(
            { code: 'EENVELOPE', ...(info.rejectedErrors?.[0] ?? {}), message: `recipient refused: ${sent.rejected.join(', ')}` },
            server,
            sendTimeoutMs,
          );
        }
        return sent;
      } catch (error) {
        throw toDeliveryError(error, server, sendTimeoutMs);
      }
    },

    async verify() {
      try {
        await transporter.verify();
      } catch (error) {
        throw toDeliveryError(error, server, sendTimeoutMs);
      }
    },

    async close() {
      transporter.close();
    },
  };
}
