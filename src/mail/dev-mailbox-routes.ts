import type { FastifyPluginAsync } from 'fastify';
import type { DevMailbox, ReceivedMail } from './dev-mailbox.ts';
import { escapeHtml } from './render.ts';

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

function renderMessage(mail: ReceivedMail): string {
  const code = findCode(mail);
  const e = escapeHtml;
  return `
    <article class="mail" id="mail-${e(mail.id)}">
      <header class="mail-head">
        <h2 class="mail-subject">${e(mail.subject || '(no subject)')}</h2>
        ${code ? `<span class="mail-code" title="One-time code found in this mail">${e(code)}</span>` : ''}
      </header>
      <dl class="mail-meta">
        <div><dt>To</dt><dd>${e(mail.to.join(', '))}</dd></div>
        <div><dt>From</dt><dd>${e(mail.from)}</dd></div>
        <div><dt>Received</dt><dd><time datetime="${e(mail.date)}">${e(formatTime(mail.date))}</time></dd></div>
      </dl>
      ${
        mail.html !== undefined
          ? `<div class="mail-html"><iframe sandbox="" referrerpolicy="no-referrer" title="HTML body of ${e(mail.subject)}" srcdoc="${e(mail.html)}"></iframe></div>`
          : ''
      }
      <details class="mail-text"${mail.html === undefined ? ' open' : ''}>
        <summary>Plain text</summary>
        <pre>${e(mail.text)}</pre>
      </details>
    </article>`;
}

function renderPage(mailbox: DevMailbox, messages: ReceivedMail[], to: string | undefined): string {
  const e = escapeHtml;
  const list =
    messages.length > 0
      ? messages.map(renderMessage).join('\n')
      : `<div class="empty">
          <p class="empty-title">${to ? `No mail for ${e(to)} yet.` : 'No mail yet.'}</p>
          <p>Mail Sesame sends in development lands here instead of a real inbox. This page refreshes every few seconds.</p>
        </div>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${to ? `Dev mailbox: ${e(to)}` : 'Dev mailbox'}</title>
<link rel="stylesheet" href="/dev/mail.css">
</head>
<body>
<main class="page">
  <header class="page-head">
    <div>
      <h1>Dev mailbox</h1>
      <p class="page-note">Development only. Nothing here left this machine: mail is caught by the SMTP server on ${e(`${mailbox.host}:${mailbox.port}`)}.</p>
    </div>
    <form class="filter" method="get" action="/dev/mail">
      <label for="to">Recipient</label>
      <input id="to" name="to" type="email" placeholder="someone@example.com" value="${e(to ?? '')}" maxlength="${MAX_FILTER_LENGTH}">
      <button type="submit">Filter</button>
      ${to ? '<a class="filter-clear" href="/dev/mail">Show all</a>' : ''}
    </form>
  </header>
  <p class="count">${messages.length} ${messages.length === 1 ? 'message' : 'messages'}${to ? ` to ${e(to)}` : ''}, newest first. <a href="/dev/mail.json${to ? `?to=${e(encodeURIComponent(to))}` : ''}">JSON</a></p>
  ${list}
</main>
</body>
</html>`;
}

const CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #f3f4f6; color: #111827; font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.page { max-width: 880px; margin: 0 auto; padding: 32px 20px 64px; }
.page-head { display: flex; flex-wrap: wrap; gap: 16px 24px; align-items: flex-end; justify-content: space-between; margin-bottom: 12px; }
h1 { margin: 0; font-size: 24px; line-height: 1.3; }
.page-note { margin: 4px 0 0; color: #6b7280; font-size: 13px; }
.filter { display: flex; gap: 8px; align-items: center; }
.filter label { font-size: 13px; color: #374151; }
.filter input { width: 240px; padding: 7px 10px; border: 1px solid #d1d5db; border-radius: 6px; font: inherit; background: #fff; }
.filter input:focus { outline: 2px solid #2563eb; outline-offset: 1px; border-color: #2563eb; }
.filter button { padding: 7px 14px; border: 0; border-radius: 6px; background: #111827; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
.filter button:hover { background: #374151; }
.filter-clear { font-size: 13px; color: #2563eb; }
.count { margin: 0 0 16px; color: #6b7280; font-size: 13px; }
.count a { color: #2563eb; }
.mail { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 20px 24px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(17, 24, 39, 0.04); }
.mail-head { display: flex; gap: 12px; align-items: center; justify-content: space-between; }
.mail-subject { margin: 0; font-size: 17px; line-height: 1.4; overflow-wrap: anywhere; }
.mail-code { flex: none; padding: 4px 10px; border-radius: 6px; background: #ecfdf5; border: 1px solid #a7f3d0; color: #065f46; font: 700 18px/1.3 ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; letter-spacing: 3px; user-select: all; }
.mail-meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 10px 0 16px; font-size: 13px; }
.mail-meta div { display: contents; }
.mail-meta dt { color: #6b7280; }
.mail-meta dd { margin: 0; color: #111827; min-width: 0; overflow-wrap: anywhere; }
.mail-html { height: 440px; min-height: 160px; resize: vertical; overflow: hidden; border: 1px solid #e5e7eb; border-radius: 8px; background: #fff; }
.mail-html iframe { display: block; width: 100%; height: 100%; border: 0; }
.mail-text { margin-top: 12px; }
.mail-text summary { cursor: pointer; font-size: 13px; color: #374151; font-weight: 600; }
.mail-text pre { margin: 8px 0 0; padding: 12px 14px; max-height: 360px; overflow: auto; background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 8px; font: 13px/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
.empty { background: #fff; border: 1px dashed #d1d5db; border-radius: 10px; padding: 40px 24px; text-align: center; color: #6b7280; }
.empty p { margin: 4px 0; }
.empty-title { color: #111827; font-weight: 600; font-size: 16px; }
@media (max-width: 560px) { .filter { width: 100%; } .filter input { flex: 1; width: auto; } .mail { padding: 16px; } }
`.trimStart();

/** The dev mailbox's inbox page and JSON. Register only when the dev mailbox is in use. */
export function devMailboxRoutes(mailbox: DevMailbox): FastifyPluginAsync {
  return async (app) => {
    app.get('/dev/mail', async (request, reply) => {
      const to = recipientFilter(request.query);
      return reply
        .header('Cache-Control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(renderPage(mailbox, mailbox.messages(to), to));
    });

    app.get('/dev/mail.json', async (request, reply) => {
      const to = recipientFilter(request.query);
      return reply.header('Cache-Control', 'no-store').send({ messages: mailbox.messages(to) });
    });

    app.get('/dev/mail.css', async (_request, reply) => {
      return reply.header('Cache-Control', 'no-cache').type('text/css; charset=utf-8').send(CSS);
    });
  };
}
