import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SmtpConnectorConfig } from './connector-config.ts';
import { InvalidMailError, MailDeliveryError, type MailDeliveryDetails } from './errors.ts';
import { createSmtpMailer, type Mailer, type OutgoingMail, type SentMail, type SmtpMailerOptions } from './mailer.ts';

/** What the main thread asks of the mail thread. */
export type MailRequest = { id: number; op: 'send'; mail: OutgoingMail } | { id: number; op: 'verify' } | { op: 'close' };
export type SerializedMailError =
  | { kind: 'invalid'; message: string }
  | { kind: 'delivery'; message: string; details: MailDeliveryDetails }
  | { kind: 'other'; message: string };
export type MailReply = { ready: true } | { id: number; value?: SentMail } | { id: number; error: SerializedMailError };

/**
 * The mail thread's program next to this module: mail-worker.mjs beside the production bundle
 * (`npm run build` makes it), mail-worker-from-source.mjs (which loads mail-worker.ts through tsx)
 * when running from source. Undefined when neither is there.
 */
function workerFile(): URL | undefined {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './mail-worker-from-source.mjs' : './mail-worker.mjs', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export interface ThreadedMailer extends Mailer {
  /** Whether sends run on the mail thread now (false before it is ready, without one, or after it failed). */
  readonly onThread: boolean;
}

const revive = (error: SerializedMailError): Error =>
  error.kind === 'invalid'
    ? new InvalidMailError(error.message)
    : error.kind === 'delivery'
      ? new MailDeliveryError(error.message, error.details)
      : new Error(error.message);

/**
 * The SMTP mailer (mailer.ts) on a thread of its own. Rendering a code mail and handing it to
 * nodemailer (MIME building, streams, the SMTP dialogue) costs about a millisecond of CPU, a fifth of
 * a whole sign-in's: on the event loop that millisecond is taken from every other request, on a
 * thread it runs on another core. Errors come back as the same classes (InvalidMailError,
 * MailDeliveryError with its details).
 *
 * If the thread cannot run (no mail-worker file beside a bundle built without it, or it fails to
 * start), the mailer runs on the event loop as before: a send that was waiting for the thread was
 * never handed to SMTP, so it is simply made there.
 */
export function createThreadedMailer(config: SmtpConnectorConfig, options: Pick<SmtpMailerOptions, 'templatesDir'>): ThreadedMailer {
  let inProcess: Mailer | undefined;
  const fallback = () => (inProcess ??= createSmtpMailer(config, options));
  /** `request` made on the event loop (no thread, or before the thread took it). */
  const runHere = (request: MailRequest & { id: number }): Promise<SentMail | undefined> =>
    request.op === 'send' ? fallback().send(request.mail) : fallback().verify().then(() => undefined);
  const file = workerFile();
  if (!file) {
    const direct = fallback();
    return { send: (mail) => direct.send(mail), verify: () => direct.verify(), close: () => direct.close(), onThread: false };
  }

  const pending = new Map<number, { resolve: (value: SentMail | undefined) => void; reject: (error: Error) => void; request: MailRequest & { id: number } }>();
  let nextId = 1;
  let closed = false;
  // An idle thread must not keep the process alive; one with mail in hand must (a CLI's only work).
  let worker: Worker | undefined = new Worker(file, { workerData: { config, templatesDir: options.templatesDir } });
  worker.unref();
  /** The thread loaded its program and made its mailer: from here on a send handed to it may leave. */
  let started = false;
  worker.on('message', (reply: MailReply) => {
    if ('ready' in reply) {
      started = true;
      return;
    }
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker?.unref();
    if ('error' in reply) waiting.reject(revive(reply.error));
    else waiting.resolve(reply.value);
  });
  const lost = (error: Error) => {
    worker = undefined;
    const waiting = [...pending.values()];
    pending.clear();
    for (const { request, resolve, reject } of waiting) {
      // Not started: nothing reached SMTP, make it here. Started: the mail may have left; say so.
      if (!started) runHere(request).then(resolve, reject);
      else reject(new MailDeliveryError(`the mail thread stopped: ${error.message}`, { certainlyNotSent: false }, { cause: error }));
    }
  };
  worker.on('error', lost);
  worker.on('exit', (code) => {
    if (!closed || pending.size > 0) lost(new Error(`exited with code ${code}`));
  });

  const ask = (request: MailRequest & { id: number }) =>
    new Promise<SentMail | undefined>((resolve, reject) => {
      if (!worker) {
        // The thread is gone (it failed): from now on, mail goes out on the event loop.
        runHere(request).then(resolve, reject);
        return;
      }
      pending.set(request.id, { resolve, reject, request });
      worker.ref();
      worker.postMessage(request);
    });

  return {
    get onThread() {
      return started && worker !== undefined;
    },
    async send(mail) {
      return (await ask({ id: nextId++, op: 'send', mail }))!;
    },
    async verify() {
      await ask({ id: nextId++, op: 'verify' });
    },
    async close() {
      closed = true;
      const current = worker;
      worker = undefined;
      if (current) {
        const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
        current.ref(); // until it has closed its SMTP connections and exited
        current.postMessage({ op: 'close' } satisfies MailRequest);
        await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())]);
        await current.terminate();
      }
      await inProcess?.close();
    },
  };
}
