import { parentPort, workerData } from 'node:worker_threads';
import type { SmtpConnectorConfig } from './connector-config.ts';
import { createSmtpMailer, InvalidMailError, MailDeliveryError, type OutgoingMail } from './mailer.ts';
import type { MailRequest, MailReply, SerializedMailError } from './threaded-mailer.ts';

/**
 * The mail thread's program (see threaded-mailer.ts): Sesame's own SMTP mailer (render + nodemailer's
 * pool), driven by messages from the main thread. Errors go back as plain data, classified as the
 * main thread must see them (nothing sent, refused or unreachable, anything else).
 */
const { config, templatesDir } = workerData as { config: SmtpConnectorConfig; templatesDir: string };
const mailer = createSmtpMailer(config, { templatesDir });
const port = parentPort!;

function serialize(error: unknown): SerializedMailError {
  if (error instanceof InvalidMailError) return { kind: 'invalid', message: error.message };
  if (error instanceof MailDeliveryError) {
    const { code, responseCode, response, command, permanent, certainlyNotSent } = error;
    return { kind: 'delivery', message: error.message, details: { code, responseCode, response, command, permanent, certainlyNotSent } };
  }
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
}

port.postMessage({ ready: true } satisfies MailReply);
port.on('message', (request: MailRequest) => {
  if (request.op === 'close') {
    void mailer.close().finally(() => port.close());
    return;
  }
  const work = request.op === 'send' ? mailer.send(request.mail as OutgoingMail) : mailer.verify().then(() => undefined);
  work.then(
    (value) => port.postMessage({ id: request.id, value } satisfies MailReply),
    (error: unknown) => port.postMessage({ id: request.id, error: serialize(error) } satisfies MailReply),
  );
});
