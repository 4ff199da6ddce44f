import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.ts';
import type { Views } from '../../http/views.ts';
import { CONTENT_TYPES, USAGE_TYPES, parseSmtpConnectorConfig, type UsageType } from '../../mail/connector-config.ts';
import { renderMail, type MailData } from '../../mail/render.ts';
import { HIDDEN_PASSWORD } from '../../management/email-connector.ts';
import type { ApiAnswer, ApiProblem } from '../api.ts';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { apiErrors, clean, sentence, text, type FieldErrors } from '../forms.ts';

interface Connector {
  id: string;
  config: Record<string, unknown> & { auth?: { user?: string; pass?: string }; templates?: Template[] };
  updatedAt: number;
}
interface Template {
  usageType: UsageType;
  contentType: (typeof CONTENT_TYPES)[number];
  subject: string;
  content: string;
}
type Setup = { environment: string; mailSource: 'connector' | 'environment' | 'none' };

const CONNECTOR = '/connectors/smtp';
const FACTORY = 'simple-mail-transfer-protocol';
const SMTP_FIELDS = { pass: /auth\.pass|password/i, user: /auth\.user|auth\b/i, port: /\bport\b/i, host: /\bhost\b/i, fromEmail: /fromEmail|from/i };

/** The API's "invalid SMTP connector config: " before the field it names: beside the field, the field is enough. */
const withoutPrefix = (answer: ApiAnswer): ApiAnswer => {
  const problem = answer.body as ApiProblem | null;
  return problem?.message ? { ...answer, body: { ...problem, message: problem.message.replace(/^invalid SMTP connector config: /, '') } } : answer;
};

export const USAGE_LABELS: Record<UsageType, { label: string; when: string }> = {
  Register: { label: 'Sign-up code', when: 'sent to a new address to verify it' },
  SignIn: { label: 'Sign-in code', when: 'sent to an existing account to sign in' },
  ForgotPassword: { label: 'Password reset code', when: 'sent when someone resets their password' },
  Generic: { label: 'Notices', when: 'sent for everything else (e.g. "your password was changed"), and for any type without a template of its own' },
};

/**
 * How Sesame connects, from the port alone (what the form saves): 465 is SMTPS, TLS from the first
 * byte; 587 is mail submission, where STARTTLS is required; any other port upgrades with STARTTLS
 * when the server offers it (local relays and test servers often do not).
 */
export function tlsFor(port: number): { secure: boolean; requireTLS: boolean; explanation: string } {
  if (port === 465) return { secure: true, requireTLS: false, explanation: 'Port 465: implicit TLS. The connection is encrypted from the first byte (SMTPS).' };
  if (port === 587) return { secure: false, requireTLS: true, explanation: 'Port 587: STARTTLS, required. Sesame connects in plain text, then upgrades to TLS; it refuses to send if the server does not offer STARTTLS.' };
  return { secure: false, requireTLS: false, explanation: `Port ${port || '…'}: STARTTLS when the server offers it. Sesame upgrades to TLS if the server offers STARTTLS, else sends in plain text (fine for a relay on this machine or network; use 465 or 587 across the internet).` };
}

const smtpForm = (body: unknown) => ({ host: text(body, 'host'), port: text(body, 'port'), user: text(body, 'user'), pass: text(body, 'pass'), fromEmail: text(body, 'fromEmail') });
type SmtpForm = ReturnType<typeof smtpForm>;
const templateForm = (body: unknown) => ({ subject: text(body, 'subject'), contentType: text(body, 'contentType'), content: text(body, 'content') });
type TemplateForm = ReturnType<typeof templateForm>;

/** What a preview fills the placeholders with. */
function sampleData(usageType: UsageType): MailData {
  return {
    code: '123456',
    application: { name: 'Your app' },
    user: { primaryEmail: 'ada@example.com' },
    expiresInMinutes: 10,
    ...(usageType === 'Generic' && { subject: 'Your password was changed', message: 'The password of your account ada@example.com was just changed.' }),
  };
}

/** The preview's headers: framed by the console only; no script, no form, no fetch beyond this origin's styles. */
const PREVIEW_CSP = ["default-src 'none'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "frame-src 'self'", "frame-ancestors 'self'", "form-action 'none'", "base-uri 'none'", 'sandbox allow-same-origin'].join('; ');

export function emailRoutes(scope: FastifyInstance, page: PageRoute, deps: { views: Views; config: Readonly<Config> }): void {
  const section = sectionOf('email');
  const post = { ...section, preHandler: scope.csrfProtection };

  async function stored(ctx: ConsoleContext): Promise<Connector | undefined> {
    const { body } = await ctx.api.ok<Connector[]>('GET', '/connectors');
    return body[0];
  }

  async function showEmail(
    reply: FastifyReply,
    ctx: ConsoleContext,
    kept: { smtp?: SmtpForm; raw?: string; testTo?: string; test?: { ok: boolean; text: string } } = {},
    errors: FieldErrors = {},
    status?: number,
  ) {
    const [connector, { body: setup }] = await Promise.all([stored(ctx), ctx.api.ok<Setup>('GET', '/dashboard/setup')]);
    const config = connector?.config;
    const smtp: SmtpForm = kept.smtp ?? {
      host: typeof config?.host === 'string' ? config.host : '',
      port: config?.port !== undefined ? String(config.port) : '587',
      user: config?.auth?.user ?? '',
      pass: config?.auth?.pass ? HIDDEN_PASSWORD : '',
      fromEmail: typeof config?.fromEmail === 'string' ? config.fromEmail : '',
    };
    const templates = config?.templates ?? [];
    return ctx.render(
      reply,
      'email',
      {
        title: 'Email',
        connector,
        setup,
        smtp,
        passwordStored: Boolean(config?.auth?.pass),
        tls: tlsFor(Number(smtp.port)),
        // For console.js, which rewords the line as the port changes.
        tlsTexts: { implicit: tlsFor(465).explanation, required: tlsFor(587).explanation, other: tlsFor(25).explanation.replace('Port 25', 'Port {port}') },
        raw: kept.raw ?? JSON.stringify(config ?? { host: 'smtp.example.com', port: 587, fromEmail: 'Sesame <no-reply@example.com>', auth: { user: 'apikey', pass: '' }, templates: [] }, null, 2),
        rawOpen: kept.raw !== undefined,
        testTo: kept.testTo ?? ctx.session.data.email,
        test: kept.test,
        usages: USAGE_TYPES.map((usageType) => ({ usageType, ...USAGE_LABELS[usageType], custom: templates.some((template) => template.usageType === usageType) })),
        errors,
      },
      status ?? (clean(errors) ? 200 : 400),
    );
  }

  /** Stores `config`: PATCH the stored connector, or POST the first one. */
  const save = (ctx: ConsoleContext, connector: Connector | undefined, config: Record<string, unknown>) =>
    connector ? ctx.api.call('PATCH', CONNECTOR, { config }) : ctx.api.call('POST', '/connectors', { connectorId: FACTORY, config });

  scope.get('/console/email', section, page(async (_request, reply, ctx) => showEmail(reply, ctx)));

  scope.post(
    '/console/email',
    post,
    page(async (request, reply, ctx) => {
      const form = smtpForm(request.body);
      const errors: FieldErrors = {};
      const host = form.host.trim();
      if (!host) errors.host = 'Enter the SMTP server, such as smtp.example.com.';
      else if (/[\s/]/.test(host)) errors.host = 'A host name or IP address, without spaces, slashes or a scheme.';
      const port = Number(form.port.trim());
      if (!/^\d+$/.test(form.port.trim()) || port < 1 || port > 65535) errors.port = 'A port from 1 to 65535 (usually 587 or 465).';
      const fromEmail = form.fromEmail.trim();
      if (!fromEmail) errors.fromEmail = 'Enter the sender, such as Sesame <no-reply@example.com>.';
      const user = form.user.trim();
      if (!user && form.pass && form.pass !== HIDDEN_PASSWORD) errors.user = 'A password needs a user name.';
      if (!clean(errors)) return showEmail(reply, ctx, { smtp: form }, errors);
      const connector = await stored(ctx);
      // The form's fields over the stored config: what only the raw JSON sets (templates, headers, timeouts) is kept.
      const { secure, requireTLS } = tlsFor(port);
      const config: Record<string, unknown> = { ...connector?.config, host, port, fromEmail, secure, requireTLS };
      delete config.ignoreTLS;
      if (user) config.auth = { user, pass: form.pass };
      else delete config.auth;
      const answer = await save(ctx, connector, config);
      if (answer.status !== 200) return showEmail(reply, ctx, { smtp: form }, apiErrors(withoutPrefix(answer), SMTP_FIELDS));
      return ctx.redirect(reply, '/console/email', { kind: 'notice', text: `Saved. The next email goes through ${host}:${port}. Send a test mail to check it.` });
    }),
  );

  scope.post(
    '/console/email/raw',
    post,
    page(async (request, reply, ctx) => {
      const typed = text(request.body, 'raw');
      let config: unknown;
      try {
        config = JSON.parse(typed);
      } catch (error) {
        return showEmail(reply, ctx, { raw: typed }, { raw: `This is not valid JSON: ${(error as Error).message}.` });
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config)) return showEmail(reply, ctx, { raw: typed }, { raw: "The connector config is a JSON object, in Logto's SMTP connector format." });
      const answer = await save(ctx, await stored(ctx), config as Record<string, unknown>);
      if (answer.status !== 200) return showEmail(reply, ctx, { raw: typed }, { raw: sentence((withoutPrefix(answer).body as { message: string }).message) });
      return ctx.redirect(reply, '/console/email', { kind: 'notice', text: 'Saved the connector config. The next email uses it.' });
    }),
  );

  scope.post(
    '/console/email/test',
    post,
    page(async (request, reply, ctx) => {
      const to = text(request.body, 'to').trim();
      if (!/^[^\s@]+@[^\s@]+$/.test(to)) return showEmail(reply, ctx, { testTo: to }, { to: 'Enter the address to send the test mail to.' });
      const answer = await ctx.api.call<{ response?: string; message?: string }>('POST', `/connectors/${FACTORY}/test`, { email: to }, { prefer: 'return=representation' });
      if (answer.status === 200) return showEmail(reply, ctx, { testTo: to, test: { ok: true, text: answer.body.response ?? '' } });
      if (answer.status === 400) return showEmail(reply, ctx, { testTo: to }, { to: sentence(answer.body.message ?? 'refused') });
      // 502: the SMTP server's refusal or the connection's failure, word for word.
      return showEmail(reply, ctx, { testTo: to, test: { ok: false, text: (answer.body.message ?? `error ${answer.status}`).replace(/^sending failed: /, '') } }, {}, 200);
    }),
  );

  scope.get(
    '/console/email/remove',
    section,
    page(async (_request, reply, ctx) =>
      ctx.render(reply, 'confirm-delete', {
        title: 'Remove the SMTP connector?',
        what: 'the stored SMTP connector',
        consequences: ['Sesame sends through the SMTP_* variables again; without them, outside production, through the dev mailbox, and in production not at all.', 'Its custom templates go with it.'],
        action: '/console/email/remove',
        cancel: '/console/email',
      }),
    ),
  );

  scope.post(
    '/console/email/remove',
    post,
    page(async (_request, reply, ctx) => {
      await ctx.api.ok('DELETE', CONNECTOR);
      return ctx.redirect(reply, '/console/email', { kind: 'notice', text: 'Removed the stored SMTP connector.' });
    }),
  );

  // ---------- templates per usage type ----------

  const usageOf = (request: FastifyRequest): UsageType | undefined => {
    const usage = (request.params as { usageType: string }).usageType;
    return (USAGE_TYPES as readonly string[]).includes(usage) ? (usage as UsageType) : undefined;
  };
  const notFound = (reply: FastifyReply, ctx: ConsoleContext) =>
    ctx.render(reply, 'problem-inline', { title: 'No such email type', message: `Sesame's email types are ${USAGE_TYPES.join(', ')}.` }, 404);

  async function showTemplate(reply: FastifyReply, ctx: ConsoleContext, usageType: UsageType, kept?: TemplateForm, errors: FieldErrors = {}) {
    const connector = await stored(ctx);
    const templates = connector?.config.templates ?? [];
    const own = templates.find((template) => template.usageType === usageType);
    const generic = usageType !== 'Generic' ? templates.find((template) => template.usageType === 'Generic') : undefined;
    const form: TemplateForm = kept ?? {
      subject: own?.subject ?? '{{application.name}}: your code is {{code}}',
      contentType: own?.contentType ?? 'text/html',
      content: own?.content ?? '<p>Your code for {{application.name}} is <strong>{{code}}</strong>.</p>\n<p>It expires in {{expiresInMinutes}} minutes. If you did not ask for it, ignore this email.</p>',
    };
    return ctx.render(
      reply,
      'email-template',
      {
        title: `${USAGE_LABELS[usageType].label} email`,
        usageType,
        usage: USAGE_LABELS[usageType],
        connector,
        source: own ? 'custom' : generic ? 'generic' : 'builtin',
        form,
        contentTypes: CONTENT_TYPES,
        previewUrl: `/console/email/templates/${usageType}/preview`,
        errors,
      },
      clean(errors) ? 200 : 400,
    );
  }

  scope.get(
    '/console/email/templates/:usageType',
    section,
    page(async (request, reply, ctx) => {
      const usageType = usageOf(request);
      return usageType ? showTemplate(reply, ctx, usageType) : notFound(reply, ctx);
    }),
  );

  function checkTemplate(form: TemplateForm): FieldErrors {
    const errors: FieldErrors = {};
    if (!form.subject.trim()) errors.subject = 'Enter a subject.';
    else if (/[\r\n]/.test(form.subject)) errors.subject = 'A subject is one line.';
    if (!(CONTENT_TYPES as readonly string[]).includes(form.contentType)) errors.contentType = 'Choose HTML or plain text.';
    if (!form.content.trim()) errors.content = 'Write the body of the email.';
    return errors;
  }

  async function replaceTemplate(ctx: ConsoleContext, usageType: UsageType, template: Template | undefined) {
    const connector = await stored(ctx);
    if (!connector) return undefined;
    const others = (connector.config.templates ?? []).filter((entry) => entry.usageType !== usageType);
    return ctx.api.call('PATCH', CONNECTOR, { config: { ...connector.config, templates: template ? [...others, template] : others } });
  }

  scope.post(
    '/console/email/templates/:usageType',
    post,
    page(async (request, reply, ctx) => {
      const usageType = usageOf(request);
      if (!usageType) return notFound(reply, ctx);
      const form = templateForm(request.body);
      const errors = checkTemplate(form);
      if (!clean(errors)) return showTemplate(reply, ctx, usageType, form, errors);
      const answer = await replaceTemplate(ctx, usageType, { usageType, contentType: form.contentType as Template['contentType'], subject: form.subject.trim(), content: form.content });
      if (!answer) return showTemplate(reply, ctx, usageType, form, { _form: 'Templates are part of the SMTP connector: store one on the Email page first (SMTP_* variables always use the built-in templates).' });
      if (answer.status !== 200) return showTemplate(reply, ctx, usageType, form, apiErrors(answer, { subject: /subject/, contentType: /contentType/, content: /content/ }));
      return ctx.redirect(reply, `/console/email/templates/${usageType}`, { kind: 'notice', text: 'Saved. The next email of this type uses it.' });
    }),
  );

  scope.post(
    '/console/email/templates/:usageType/reset',
    post,
    page(async (request, reply, ctx) => {
      const usageType = usageOf(request);
      if (!usageType) return notFound(reply, ctx);
      const answer = await replaceTemplate(ctx, usageType, undefined);
      if (answer && answer.status !== 200) return showTemplate(reply, ctx, usageType, undefined, apiErrors(answer, {}));
      return ctx.redirect(reply, `/console/email/templates/${usageType}`, { kind: 'notice', text: usageType === 'Generic' ? "Removed: Sesame's built-in template is used." : 'Removed: the Generic template, or else the built-in one, is used.' });
    }),
  );

  /** Renders one mail as Sesame would send it, for the preview frame. */
  async function preview(reply: FastifyReply, usageType: UsageType, templates: Template[]) {
    reply.header('cache-control', 'no-store').header('content-security-policy', PREVIEW_CSP).header('x-frame-options', 'SAMEORIGIN').type('text/html; charset=utf-8');
    const parsed = parseSmtpConnectorConfig({ host: 'preview.invalid', port: 25, fromEmail: 'preview@example.com', templates });
    if (!parsed.ok) return reply.code(400).send(deps.views.render('console/email-preview', { title: 'No preview', problem: sentence(parsed.error.replace(/^templates\[\d+\]\./, '')) }));
    try {
      const mail = await renderMail(parsed.config, usageType, sampleData(usageType), deps.config.paths.email);
      return reply.send(deps.views.render('console/email-preview', { title: mail.subject, mail }));
    } catch (error) {
      return reply.code(400).send(deps.views.render('console/email-preview', { title: 'No preview', problem: sentence((error as Error).message) }));
    }
  }

  scope.get(
    '/console/email/templates/:usageType/preview',
    section,
    page(async (request, reply, ctx) => {
      const usageType = usageOf(request);
      if (!usageType) return notFound(reply, ctx);
      return preview(reply, usageType, (await stored(ctx))?.config.templates ?? []);
    }),
  );

  // A draft, posted from the template form into the preview frame (formtarget): nothing is saved.
  scope.post(
    '/console/email/templates/:usageType/preview',
    post,
    page(async (request, reply, ctx) => {
      const usageType = usageOf(request);
      if (!usageType) return notFound(reply, ctx);
      const form = templateForm(request.body);
      const errors = checkTemplate(form);
      if (!clean(errors)) {
        reply.header('content-security-policy', PREVIEW_CSP).header('cache-control', 'no-store').type('text/html; charset=utf-8');
        return reply.code(400).send(deps.views.render('console/email-preview', { title: 'No preview', problem: Object.values(errors)[0] }));
      }
      const others = ((await stored(ctx))?.config.templates ?? []).filter((entry) => entry.usageType !== usageType);
      return preview(reply, usageType, [...others, { usageType, contentType: form.contentType as Template['contentType'], subject: form.subject, content: form.content }]);
    }),
  );
}
