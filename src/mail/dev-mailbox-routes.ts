import type { FastifyPluginAsync } from 'fastify';
import type { DevMailbox, ReceivedMail } from './dev-mailbox.ts';
import type { Views } from '../http/views.ts';

const MAX_FILTER_LENGTH = 320;

function recipientFilter(query: unknown): string | undefined {
  const raw = query && typeof query === 'object' ? (query as Record<string, unknown>).to : undefined;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim().slice(0, MAX_FILTER_LENGTH);
  return trimmed === '' ? undefined : trimmed;
}

function formatTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The one-time code, pulled out so a developer can copy it at a glance. */
function findCode(mail: ReceivedMail): string | undefined {
  return /(?<![\d-])\d{6}(?![\d-])/.exec(`${mail.subject}\n${mail.text}`)?.[0];
}

/** The sign-in link sent with a code (src/sign-in/routes/link.ts), so a developer can open it in this browser. */
function findSignInLink(mail: ReceivedMail): string | undefined {
  return /https?:\/\/[^\s"<>]+\/link\?t=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
}

/** What templates/pages/dev-mail.eta shows of one mail; the template escapes every field. */
function mailView(mail: ReceivedMail) {
  return { ...mail, to: mail.to.join(', '), received: formatTime(mail.date), code: findCode(mail), signInLink: findSignInLink(mail) };
}

/** The dev mailbox's inbox page and JSON. Register only when the dev mailbox is in use. */
export function devMailboxRoutes(mailbox: DevMailbox, views: Views): FastifyPluginAsync {
  return async (app) => {
    app.get('/dev/mail', async (request, reply) => {
      const to = recipientFilter(request.query);
      const page = views.render('dev-mail', {
        title: to ? `Dev mailbox: ${to}` : 'Dev mailbox',
        to,
        smtp: `${mailbox.host}:${mailbox.port}`,
        maxFilterLength: MAX_FILTER_LENGTH,
        jsonUrl: to ? `/dev/mail.json?to=${encodeURIComponent(to)}` : '/dev/mail.json',
        messages: mailbox.messages(to).map(mailView),
      });
      return reply.header('Cache-Control', 'no-store').type('text/html; charset=utf-8').send(page);
    });

    app.get('/dev/mail.json', async (request, reply) => {
      const to = recipientFilter(request.query);
      return reply.header('Cache-Control', 'no-store').send({ messages: mailbox.messages(to) });
    });
  };
}
