import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Eta } from 'eta';
import { compile } from 'html-to-text';
import type { SmtpConnectorConfig, SmtpTemplate, UsageType } from './connector-config.ts';
import { InvalidMailError } from './errors.ts';
import { DEFAULT_LANGUAGE, matchLanguage, speech, type Language, type Speech } from '../i18n/index.ts';

export interface MailData {
  code?: string;
  /** The person's language (a BCP 47 tag; Logto's payload field), which picks the template and its words. */
  locale?: string;
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
 * The operator's template for a usage type and a language: (1) the one whose `languageTag` is the
 * language exactly (any case), (2) one for its base language (de for de-AT), (3) the one without a
 * `languageTag`. A template for another language is never used for this person.
 */
export function findConnectorTemplate(templates: readonly SmtpTemplate[], usageType: UsageType, locale: string | undefined): SmtpTemplate | undefined {
  const ofType = templates.filter((template) => template.usageType === usageType);
  const wanted = locale?.trim().toLowerCase().replaceAll('_', '-');
  const tag = (template: SmtpTemplate) => template.languageTag?.toLowerCase().replaceAll('_', '-');
  if (wanted) {
    const exact = ofType.find((template) => tag(template) === wanted);
    if (exact) return exact;
    const base = wanted.split('-')[0];
    const sameBase = ofType.find((template) => tag(template) === base);
    if (sameBase) return sameBase;
  }
  return ofType.find((template) => template.languageTag === undefined);
}

/**
 * Subject and bodies for one mail, in the person's language (`data.locale`). The operator's
 * connector template for the usage type (findConnectorTemplate), then the operator's Generic one the
 * same way; without either (an SMTP_* env config has no templates) the built-in template from
 * `templatesDir` in the person's language, or in English for a language Sesame does not speak.
 */
export async function renderMail(
  config: SmtpConnectorConfig,
  usageType: UsageType,
  data: MailData,
  templatesDir: string,
): Promise<RenderedMail> {
  const template =
    findConnectorTemplate(config.templates, usageType, data.locale) ?? findConnectorTemplate(config.templates, 'Generic', data.locale);
  const language = matchLanguage(data.locale) ?? DEFAULT_LANGUAGE;
  const mail = template ? renderConnectorTemplate(template, data) : await renderDefaultTemplate(usageType, data, templatesDir, language);
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

/**
 * What the default templates see as `it`: the raw data, the language's words (`t`, `th`, `lang`,
 * `dir`: see src/i18n) and the phrases they would otherwise each compute.
 */
function viewModel(data: MailData, words: Speech) {
  const { t } = words;
  const appName = data.application?.name?.trim() || FALLBACK_APP_NAME;
  const minutes = data.expiresInMinutes;
  const expiry =
    typeof minutes === 'number' && Number.isFinite(minutes) && minutes > 0 ? t('mail.minutes', { count: minutes }) : undefined;
  const code = typeof data.code === 'string' && data.code !== '' ? data.code : undefined;
  // The sign-in link goes out only beside its code, and only as an absolute http(s) URL.
  const link = code && typeof data.link === 'string' && /^https?:\/\/\S+$/.test(data.link) ? data.link : undefined;
  const customSubject = stringField(data, 'subject');
  const message = stringField(data, 'message');
  return {
    ...words,
    data,
    appName,
    code,
    link,
    email: data.user?.primaryEmail,
    expiry,
    expiryLine: link
      ? expiry ? t('mail.expiresInLink', { minutes: expiry }) : t('mail.singleUseLink')
      : expiry ? t('mail.expiresIn', { minutes: expiry }) : t('mail.singleUse'),
    customSubject,
    heading: customSubject ?? (code ? t('mail.Generic.headingCode') : t('mail.Generic.subjectMessage', { app: appName })),
    paragraphs: message ? message.split(/\r?\n\s*\r?\n/).map((p) => p.replace(/\s*\r?\n\s*/g, ' ').trim()).filter(Boolean) : [],
  };
}

async function renderDefaultTemplate(usageType: UsageType, data: MailData, templatesDir: string, language: Language): Promise<RenderedMail> {
  const templates = defaultTemplates(templatesDir);
  const model = viewModel(data, speech(language));
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
