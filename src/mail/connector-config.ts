import { z } from 'zod';
import { integerIn, mailbox as mailboxIn } from '../lib/validation.ts';
import type { SmtpSettings } from '../config/index.ts';

// mailer.ts checks recipients with it; the check itself lives with the rest of the vocabulary.

/**
 * SMTP settings in the shape of Logto's SMTP connector config, so an operator can paste the JSON
 * they already have. Unknown keys (Logto's `debug`, `logger`, ...) are dropped, not refused.
 */

export type UsageType = 'Register' | 'SignIn' | 'ForgotPassword' | 'Generic';
export const USAGE_TYPES: readonly UsageType[] = Object.freeze(['Register', 'SignIn', 'ForgotPassword', 'Generic'] as const);

export const CONTENT_TYPES = ['text/plain', 'text/html'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

// An interactive user waits on the send: fail within seconds, not nodemailer's two-minute default.
export const DEFAULT_TIMEOUTS = Object.freeze({
  connectionTimeout: 5_000,
  greetingTimeout: 5_000,
  socketTimeout: 10_000,
});

const LINE_BREAK = /[\r\n]/;
// RFC 5322 field name: printable ASCII except the colon.
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
// Headers nodemailer builds from the message itself; a custom copy would contradict or duplicate them.
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'reply-to', 'sender', 'date', 'message-id',
  'mime-version', 'content-type', 'content-transfer-encoding',
]);

// A pasted config may say 587 or "587".
const timeout = integerIn(1, 600_000, 'must be a whole number of milliseconds between 1 and 600000', 'either');

const mailbox = (example: string) =>
  mailboxIn(`must be one email address, optionally with a name (e.g. "${example}")`, { notText: 'must be a string' });

const templateSchema = z.object({
  usageType: z.enum(USAGE_TYPES as [UsageType, ...UsageType[]], {
    error: `must be one of ${USAGE_TYPES.join(', ')}`,
  }),
  contentType: z.enum(CONTENT_TYPES, { error: `must be one of ${CONTENT_TYPES.join(', ')}` }),
  subject: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .refine((s) => !LINE_BREAK.test(s), 'must not contain line breaks'),
  content: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
  // Logto's name for an email template's language (its email_templates.language_tag): a BCP 47 tag
  // such as "de", "de-AT" or "zh-CN". Without it, the template is the usage type's default.
  languageTag: z
    .string({ error: 'must be a string' })
    .trim()
    .max(35, 'must be a language tag such as "de" or "zh-CN"')
    .regex(/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/, 'must be a language tag such as "de" or "zh-CN"')
    .optional(),
});

const authSchema = z.object({
  // Logto writes `type: "login"`; OAuth2 would need a token flow we do not offer.
  type: z.literal('login', { error: 'must be "login" (the only supported authentication type)' }).optional(),
  user: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
  pass: z.string({ error: 'must be a string' }),
});

const customHeadersSchema = z
  .record(z.string(), z.string({ error: 'must be a string' }))
  .superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      if (!HEADER_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid header name (printable ASCII, no colon, no spaces or line breaks)' });
      } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'cannot be set as a custom header' });
      }
      if (LINE_BREAK.test(value)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'must not contain line breaks' });
      }
    }
  });

const connectorSchema = z
  .object({
    host: z
      .string({ error: 'must be a string' })
      .trim()
      .min(1, 'must not be empty')
      .refine((h) => !/[\s/]/.test(h), 'must be a host name or IP address'),
    port: integerIn(1, 65535, 'must be an integer between 1 and 65535', 'either'),
    fromEmail: mailbox('Sesame <no-reply@example.com>'),
    replyTo: mailbox('support@example.com').optional(),
    auth: authSchema.optional(),
    secure: z.boolean({ error: 'must be true or false' }).default(false),
    requireTLS: z.boolean({ error: 'must be true or false' }).default(false),
    ignoreTLS: z.boolean({ error: 'must be true or false' }).default(false),
    tls: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    customHeaders: customHeadersSchema.default({}),
    connectionTimeout: timeout.default(DEFAULT_TIMEOUTS.connectionTimeout),
    greetingTimeout: timeout.default(DEFAULT_TIMEOUTS.greetingTimeout),
    socketTimeout: timeout.default(DEFAULT_TIMEOUTS.socketTimeout),
    templates: z.array(templateSchema, { error: 'must be an array' }).default([]),
  }, { error: 'must be an object' })
  .superRefine((config, ctx) => {
    if (config.requireTLS && config.ignoreTLS) {
      ctx.addIssue({ code: 'custom', path: ['ignoreTLS'], message: 'cannot be true together with requireTLS' });
    }
    // One template per usage type and language (tags compared as the sender compares them).
    const firstIndex = new Map<string, number>();
    config.templates.forEach((template, index) => {
      const language = template.languageTag?.toLowerCase().replaceAll('_', '-');
      const key = `${template.usageType} ${language ?? ''}`;
      const earlier = firstIndex.get(key);
      if (earlier === undefined) firstIndex.set(key, index);
      else {
        const what = language ? `${template.usageType} in ${template.languageTag}` : template.usageType;
        ctx.addIssue({ code: 'custom', path: ['templates', index, 'usageType'], message: `${what} is already defined by templates[${earlier}]` });
      }
    });
  });

export type SmtpConnectorConfig = z.output<typeof connectorSchema>;
export type SmtpTemplate = SmtpConnectorConfig['templates'][number];

/** `templates[1].usageType`, `customHeaders["X-Foo"]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || 'config';
}

function describe(issue: z.core.$ZodIssue): string {
  // Zod's stock messages ("Invalid input: expected string, received undefined") get a field-first rewrite.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined) return 'is required';
  return issue.message;
}

export function parseSmtpConnectorConfig(
  input: unknown,
): { ok: true; config: SmtpConnectorConfig } | { ok: false; error: string } {
  // reportInput lets describe() tell a missing field from a wrongly typed one.
  const result = connectorSchema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  const issue = result.error.issues[0];
  if (!issue) return { ok: false, error: 'config is invalid' };
  return { ok: false, error: `${formatPath(issue.path)} ${describe(issue)}` };
}

const ENV_NAMES: Record<string, string> = {
  host: 'SMTP_HOST',
  port: 'SMTP_PORT',
  fromEmail: 'SMTP_FROM',
  auth: 'SMTP_USER',
  'auth.user': 'SMTP_USER',
  'auth.pass': 'SMTP_PASS',
  secure: 'SMTP_SECURE',
};

/** The connector config implied by SMTP_* variables: no templates, so the defaults in templates/email/ apply. */
export function connectorConfigFromEnv(env: SmtpSettings): SmtpConnectorConfig {
  const input: Record<string, unknown> = {
    host: env.host,
    port: env.port,
    fromEmail: env.from,
    secure: env.secure,
    templates: [],
  };
  if (env.user) input.auth = { user: env.user, pass: env.pass ?? '' };
  const result = parseSmtpConnectorConfig(input);
  if (result.ok) return result.config;
  // Name the variable the operator sets rather than the connector field it became.
  const [field = '', ...rest] = result.error.split(' ');
  const variable = ENV_NAMES[field];
  throw new Error(variable ? `${variable} ${rest.join(' ')}` : result.error);
}
