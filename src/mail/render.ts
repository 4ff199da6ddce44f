import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Eta } from 'eta';
import { compile } from 'html-to-text';
import type { SmtpConnectorConfig, SmtpTemplate, UsageType } from './connector-config.ts';
import { InvalidMailError } from './errors.ts';

export interface MailData {
  code?: string;
  /** The sign-in link sent with the code (`{{link}}` in connector templates). */
  link?: string;
  application?: { name: string };
  user?: { primaryEmail?: string };
  expiresInMinutes?: number;
  [key: string]: unknown;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html?: string;
}

const FALLBACK_APP_NAME = 'Sesame';
const LINE_BREAK = /[\r\n]/;

/**
 * Subject and bodies for one mail. A connector template for the usage type wins, then the
 * connector's Generic one; a connector without any templates (SMTP_* env config) or without
 * either of those gets the built-in defaults from `templatesDir`.
 */
export async function renderMail(
  config: SmtpConnectorConfig,
  usageType: UsageType,
  data: MailData,
  templatesDir: string,
): Promise<RenderedMail> {
  const template =
    config.templates.find((t) => t.usageType === usageType) ??
    config.templates.find((t) => t.usageType === 'Generic');
  const mail = template ? renderConnectorTemplate(template, data) : await renderDefaultTemplate(usageType, data, templatesDir);
  if (LINE_BREAK.test(mail.subject)) {
    throw new InvalidMailError('The mail subject must not contain line breaks');
  }
  return mail;
}

// ---------------------------------------------------------------------------------------------
// Connector templates: Logto's {{placeholder}} syntax, never a template language that runs code.

const PLACEHOLDER = /\{\{\s*([\w$-]+(?:\.[\w$-]+)*)\s*\}\}/g;

/** Own properties only, so `{{constructor}}` or `{{__proto__.x}}` cannot reach the prototype chain. */
function lookup(data: unknown, dottedPath: string): string {
  let value: unknown = data;
  for (const key of dottedPath.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return '';
    value = (value as Record<string, unknown>)[key];
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return '';
  }
}

/**
 * Eta's own escape: connector templates and every page share one definition of HTML escaping.
 * Connector templates themselves stay {{placeholder}} text, not eta: eta compiles to JavaScript, and a
 * template stored through the CLI or API must never run code.
 */
const escapeHtml = new Eta().config.escapeFunction;

export function fillPlaceholders(template: string, data: MailData, escape: (value: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (_match, dottedPath: string) => escape(lookup(data, dottedPath)));
}

function renderConnectorTemplate(template: SmtpTemplate, data: MailData): RenderedMail {
  const subject = fillPlaceholders(template.subject, data).trim();
  if (template.contentType === 'text/plain') {
    return { subject, text: fillPlaceholders(template.content, data) };
  }
  const html = fillPlaceholders(template.content, data, escapeHtml);
  return { subject, text: htmlToText(html), html };
}

const HIDDEN = ['[style*="display:none" i]', '[style*="display: none" i]', '[hidden]'];

const textConverter = compile({
  wordwrap: false,
  // Preheader padding (figure space, combining grapheme joiner) spaces nothing a reader needs.
  whitespaceCharacters: ' \t\r\n\f\u200b\u2007\u034f',
  selectors: [
    // Hidden preheaders repeat what the body says; images carry nothing a plain-text reader can see.
    ...HIDDEN.map((selector) => ({ selector, format: 'skip' })),
    { selector: 'img', format: 'skip' },
    // Links keep their target, unless the label already is the target (mailto: dropped by the library).
    { selector: 'a', options: { linkBrackets: ['(', ')'], hideLinkHrefIfSameAsText: true } },
    ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'ul', options: { itemPrefix: '- ' } },
  ],
});

/** A readable plain-text part for an HTML body: block ends become line breaks, links keep their target. */
export function htmlToText(html: string): string {
  return textConverter(html)
    .replaceAll('\u00ad', '')
    // Spacer paragraphs (<p>&nbsp;</p>) leave lines that only look empty.
    .replace(/[ \t\u00a0]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Built-in templates (templates/email/*.html, *.txt, subjects.json), rendered with eta.

interface DefaultTemplates {
  html: Eta;
  text: Eta;
  subjects: Promise<Record<string, string>>;
}

const defaultTemplateCache = new Map<string, DefaultTemplates>();

function defaultTemplates(templatesDir: string): DefaultTemplates {
  const views = path.resolve(templatesDir);
  let templates = defaultTemplateCache.get(views);
  if (!templates) {
    templates = {
      html: new Eta({ views, autoEscape: true, cache: true }),
      // Plain text and subjects are not HTML: escaping would show "&amp;" to the reader.
      // Keep every newline the text templates write; blank runs left by control tags are collapsed after.
      text: new Eta({ views, autoEscape: false, autoTrim: false, cache: true }),
      subjects: readFile(path.join(views, 'subjects.json'), 'utf8').then((json) => JSON.parse(json) as Record<string, string>),
    };
    // A failed read must not stick: the next send retries.
    templates.subjects.catch(() => defaultTemplateCache.delete(views));
    defaultTemplateCache.set(views, templates);
  }
  return templates;
}

function stringField(data: MailData, key: string): string | undefined {
  const value = data[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** What the default templates see as `it`: the raw data plus the phrases they would otherwise each compute. */
function viewModel(data: MailData) {
  const appName = data.application?.name?.trim() || FALLBACK_APP_NAME;
  const minutes = data.expiresInMinutes;
  const expiry =
    typeof minutes === 'number' && Number.isFinite(minutes) && minutes > 0
      ? `${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`
      : undefined;
  const code = typeof data.code === 'string' && data.code !== '' ? data.code : undefined;
  // The sign-in link goes out only beside its code, and only as an absolute http(s) URL.
  const link = code && typeof data.link === 'string' && /^https?:\/\/\S+$/.test(data.link) ? data.link : undefined;
  const secret = link ? 'code and link' : 'code';
  const customSubject = stringField(data, 'subject');
  const message = stringField(data, 'message');
  return {
    data,
    appName,
    code,
    link,
    email: data.user?.primaryEmail,
    expiry,
    expiryLine: `${expiry ? `This ${secret} ${link ? 'expire' : 'expires'} in ${expiry} and can` : `This ${secret} can`} be used only once${link ? ': using either one uses both' : ''}.`,
    customSubject,
    heading: customSubject ?? (code ? 'Your verification code' : `A message from ${appName}`),
    paragraphs: message ? message.split(/\r?\n\s*\r?\n/).map((p) => p.replace(/\s*\r?\n\s*/g, ' ').trim()).filter(Boolean) : [],
  };
}

async function renderDefaultTemplate(usageType: UsageType, data: MailData, templatesDir: string): Promise<RenderedMail> {
  const templates = defaultTemplates(templatesDir);
  const model = viewModel(data);
  const subjectTemplate = (await templates.subjects)[usageType];
  if (subjectTemplate === undefined) throw new Error(`templates/email/subjects.json has no subject for ${usageType}`);
  const subject = templates.text.renderString(subjectTemplate, model).trim();
  const withSubject = { ...model, subject };
  const [html, text] = await Promise.all([
    templates.html.renderAsync(`${usageType}.html`, withSubject),
    templates.text.renderAsync(`${usageType}.txt`, withSubject),
  ]);
  return { subject, text: `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()}\n`, html };
}
