import i18next, { type TFunction } from 'i18next';
import { Eta } from 'eta';
import en from '../../locales/en.json' with { type: 'json' };
import de from '../../locales/de.json' with { type: 'json' };
import fr from '../../locales/fr.json' with { type: 'json' };
import es from '../../locales/es.json' with { type: 'json' };
import ja from '../../locales/ja.json' with { type: 'json' };
import zhCN from '../../locales/zh-CN.json' with { type: 'json' };
import ar from '../../locales/ar.json' with { type: 'json' };

/**
 * The one home of Sesame's languages: which ones there are, how a request's language is chosen, and
 * the translator every page and built-in email uses. The phrases live in locales/<language>.json
 * (nested by page), imported here so they are part of the build: nothing is read from disk or the
 * network at run time. English is the reference: every other file has exactly its keys (checked by
 * test/unit/i18n.test.ts).
 */

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'ja', 'zh-CN', 'ar'] as const;
export type Language = (typeof LANGUAGES)[number];
export type Direction = 'ltr' | 'rtl';

export const DEFAULT_LANGUAGE: Language = 'en';

const RESOURCES: Record<Language, object> = { en, de, fr, es, ja, 'zh-CN': zhCN, ar };
const RTL = new Set<Language>(['ar']);

export const directionOf = (language: Language): Direction => (RTL.has(language) ? 'rtl' : 'ltr');

/** Each language's name in itself, for the switcher (from its own locale file). */
export const LANGUAGE_NAMES: Readonly<Record<Language, string>> = Object.freeze(
  Object.fromEntries(LANGUAGES.map((language) => [language, (RESOURCES[language] as typeof en).language.name])) as Record<Language, string>,
);

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------
// Choosing the language.

const BY_LOWER = new Map<string, Language>(LANGUAGES.map((language) => [language.toLowerCase(), language]));
/** BCP 47-ish: letters, digits and hyphens only; anything else is not a language tag and is skipped. */
const TAG = /^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$/;

/**
 * The supported language a tag names: exactly (any case, `_` read as `-`), or through its base
 * language (de-AT -> de, zh-Hans / zh-TW / zh -> zh-CN, our only Chinese); undefined for anything else.
 */
export function matchLanguage(tag: unknown): Language | undefined {
  if (typeof tag !== 'string' || tag.length > 64 || !TAG.test(tag.trim())) return undefined;
  const lower = tag.trim().toLowerCase().replaceAll('_', '-');
  const exact = BY_LOWER.get(lower);
  if (exact) return exact;
  const base = lower.split('-')[0]!;
  if (base === 'zh') return 'zh-CN';
  return BY_LOWER.get(base);
}

/** Longest Accept-Language header read, and most entries looked at: a huge header costs nothing. */
const MAX_HEADER = 1024;
const MAX_ENTRIES = 32;

/**
 * The tags of an Accept-Language header, most wanted first (RFC 9110 q-values; equal q keeps the
 * header's order; q=0 means "not this one"; malformed entries are skipped, never an error).
 */
export function parseAcceptLanguage(header: unknown): string[] {
  if (typeof header !== 'string' || header === '') return [];
  const entries: { tag: string; q: number; index: number }[] = [];
  header
    .slice(0, MAX_HEADER)
    .split(',')
    .slice(0, MAX_ENTRIES)
    .forEach((part, index) => {
      const [rawTag = '', ...params] = part.split(';');
      const tag = rawTag.trim();
      if (tag === '' || tag === '*') return;
      let q = 1;
      for (const param of params) {
        const match = /^\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?)\s*$/i.exec(param);
        if (!match) return; // a malformed parameter: the entry is not trusted
        q = Number(match[1]);
      }
      if (q > 0 && q <= 1) entries.push({ tag, q, index });
    });
  return entries.sort((a, b) => b.q - a.q || a.index - b.index).map((entry) => entry.tag);
}

/** The operator's setting, in the shape of Logto's sign-in experience `languageInfo`. */
export interface LanguageInfo {
  /** Follow the browser's Accept-Language; false = the fallback unless the app asks (ui_locales). */
  autoDetect: boolean;
  fallbackLanguage: Language;
}

export const DEFAULT_LANGUAGE_INFO: Readonly<LanguageInfo> = Object.freeze({ autoDetect: true, fallbackLanguage: DEFAULT_LANGUAGE });

export interface LanguageSources {
  /** The OIDC `ui_locales` parameter: space-separated tags, the app's own request, in order. */
  uiLocales?: unknown;
  acceptLanguage?: unknown;
  /** The `sesame_lang` cookie: what the person picked on the switcher. */
  cookie?: unknown;
  info?: LanguageInfo;
}

/**
 * The language of a page or email. The person's own pick on the switcher first (it is the most
 * explicit wish there is, and it is theirs, not the app's), then the app's `ui_locales` in its
 * order, then the browser's Accept-Language (unless the operator turned detection off), then the
 * operator's fallback. Anything unreadable is skipped quietly.
 */
export function chooseLanguage({ uiLocales, acceptLanguage, cookie, info = DEFAULT_LANGUAGE_INFO }: LanguageSources): Language {
  const picked = typeof cookie === 'string' && isLanguage(cookie) ? cookie : undefined;
  if (picked) return picked;
  const asked = typeof uiLocales === 'string' ? uiLocales.slice(0, MAX_HEADER).split(/\s+/).slice(0, MAX_ENTRIES) : [];
  for (const tag of asked) {
    const language = matchLanguage(tag);
    if (language) return language;
  }
  if (info.autoDetect) {
    for (const tag of parseAcceptLanguage(acceptLanguage)) {
      const language = matchLanguage(tag);
      if (language) return language;
    }
  }
  return info.fallbackLanguage;
}

// ---------------------------------------------------------------------------------------------
// Translating.

/**
 * One i18next instance for the process, initialised at import with every bundled language
 * (synchronously: resources are in memory). Values are not escaped by i18next: a page's `t()` output
 * goes through eta's `<%= %>`, which escapes it, and `html()` below escapes for itself.
 */
const instance = i18next.createInstance();
void instance.init({
  resources: Object.fromEntries(LANGUAGES.map((language) => [language, { translation: RESOURCES[language] }])),
  lng: DEFAULT_LANGUAGE,
  fallbackLng: DEFAULT_LANGUAGE,
  supportedLngs: [...LANGUAGES],
  // 'zh-CN' is a language of its own here, not "zh with a region" to be cut down to zh.
  load: 'currentOnly',
  nonExplicitSupportedLngs: false,
  initAsync: false,
  returnNull: false,
  interpolation: { escapeValue: false },
});
// `{{count, number}}` in a phrase: the language's number format (grouping, decimal sign), see numberLocale.
instance.services.formatter?.add('number', (value, language, options) =>
  numberFormat(isLanguage(language) ? language : DEFAULT_LANGUAGE, options).format(value),
);

export type Translate = (key: string, params?: Record<string, unknown>) => string;

const fixed = new Map<Language, TFunction>(LANGUAGES.map((language) => [language, instance.getFixedT(language)]));

/**
 * A translatable phrase: a key (and its values) whose words are chosen later, where the language is
 * known (views.ts renders it for the page's language; a mail for the person's). The sign-in routes
 * build phrases without knowing the language; see src/sign-in/messages.ts.
 */
export class Phrase {
  constructor(
    readonly key: string,
    readonly params: Readonly<Record<string, unknown>> = {},
  ) {}
}

/**
 * A phrase without values never changes (the resources are bundled and fixed at start), so each
 * language remembers its answer: a page asks for some forty of them per render, and i18next's
 * lookup (fallbacks, plurals, nesting) was a measurable share of a sign-in's CPU.
 */
const plainPhrases = new Map<Language, Map<string, string>>(LANGUAGES.map((language) => [language, new Map()]));

/** The phrase or plain text in `language`; phrases among the values are translated first. */
export function translator(language: Language): Translate {
  return translators.get(language)!;
}

function makeTranslator(language: Language): Translate {
  const t = fixed.get(language)!;
  const plain = plainPhrases.get(language)!;
  const withValues = new Map<string, string>();
  const translate: Translate = (key, params) => {
    if (params === undefined || isEmpty(params)) {
      let text = plain.get(key);
      if (text === undefined) plain.set(key, (text = t(key, {}) as string));
      return text;
    }
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) values[name] = value instanceof Phrase ? translate(value.key, value.params) : value;
    const known = `${key}\u0000${JSON.stringify(values)}`;
    let text = withValues.get(known);
    if (text === undefined) {
      text = t(key, values) as string;
      if (withValues.size >= PHRASES_WITH_VALUES_KEPT) withValues.delete(withValues.keys().next().value!);
      withValues.set(known, text);
    }
    return text;
  };
  return translate;
}

/**
 * Phrases with values repeat too: the app's name, a count, and html()'s placeholders for markup
 * (the same for every address it wraps) are most of the values a page passes. The last few hundred
 * of each language are kept, oldest out first, so values that never repeat (an address in plain
 * text) cannot grow it.
 */
const PHRASES_WITH_VALUES_KEPT = 500;

function isEmpty(params: Record<string, unknown>): boolean {
  for (const _ in params) return false;
  return true;
}

const translators = new Map<Language, Translate>(LANGUAGES.map((language) => [language, makeTranslator(language)]));

export function render(text: string | Phrase, language: Language): string {
  return typeof text === 'string' ? text : translator(language)(text.key, text.params);
}

/** A value in a sentence that needs its own element (a bold address, the countdown's number). */
export interface Markup {
  text: string | number;
  tag: 'strong' | 'span' | 'code';
  className?: string;
  /** Boolean-ish data attributes, e.g. `data-countdown-value`. */
  data?: string;
  style?: string;
}

const escapeHtml = new Eta().config.escapeFunction as (value: unknown) => string;

/**
 * A sentence as HTML, its values wrapped in elements (for `<%~ %>`): the whole sentence is escaped
 * (our own words included), and each markup value is escaped inside its element. Translators keep
 * the markup out of the locale files, and no value can inject HTML.
 */
export function html(translate: Translate, language: Language, key: string, params: Record<string, unknown> = {}): string {
  const marks: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (isMarkup(value)) {
      const text = typeof value.text === 'number' ? formatNumber(value.text, language) : value.text;
      const attributes = [
        value.className ? ` class="${escapeHtml(value.className)}"` : '',
        value.data ? ` ${value.data.replace(/[^a-z-]/g, '')}` : '',
        value.style ? ` style="${escapeHtml(value.style)}"` : '',
      ].join('');
      marks.push(`<${value.tag}${attributes}>${escapeHtml(text)}</${value.tag}>`);
      values[name] = `\uE000${marks.length - 1}\uE001`;
    } else {
      values[name] = value;
    }
  }
  return escapeHtml(translate(key, values)).replace(/\uE000(\d+)\uE001/g, (_match, index: string) => marks[Number(index)] ?? '');
}

function isMarkup(value: unknown): value is Markup {
  return typeof value === 'object' && value !== null && !(value instanceof Phrase) && 'tag' in value && 'text' in value;
}

/**
 * The locale numbers are written in. Arabic pages write Western digits (0-9), as much of the Arab
 * world does online: the code a person types is 0-9 too, and one page should not mix two digit sets.
 */
function numberLocale(language: Language): string {
  return language === 'ar' ? 'ar-u-nu-latn' : language;
}

export function formatNumber(value: number, language: Language): string {
  return numberFormat(language).format(value);
}

/** Intl.NumberFormat is costly to build and immutable: one per language and options. */
const numberFormats = new Map<string, Intl.NumberFormat>();
function numberFormat(language: Language, options?: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = options && !isEmpty(options as Record<string, unknown>) ? `${language} ${JSON.stringify(options)}` : language;
  let format = numberFormats.get(key);
  if (!format) numberFormats.set(key, (format = new Intl.NumberFormat(numberLocale(language), options)));
  return format;
}

/** Every key path of a language's file (plural forms as written: `triesLeft_one`, ...). */
export function keysOf(language: Language): string[] {
  const out: string[] = [];
  const walk = (node: unknown, prefix: string) => {
    if (typeof node === 'string') out.push(prefix);
    else if (node && typeof node === 'object') for (const [key, value] of Object.entries(node)) walk(value, prefix ? `${prefix}.${key}` : key);
  };
  walk(RESOURCES[language], '');
  return out.sort();
}

/** The raw phrase under `key` in `language`'s own file (no fallback), for tests. */
export function ownPhrase(language: Language, key: string): string | undefined {
  let node: unknown = RESOURCES[language];
  for (const part of key.split('.')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return typeof node === 'string' ? node : undefined;
}

/** What a page or email template needs to speak `language`. */
export interface Speech {
  lang: Language;
  dir: Direction;
  t: Translate;
  /** html(key, params) with this language, for `<%~ %>`. */
  th: (key: string, params?: Record<string, unknown>) => string;
  number: (value: number) => string;
}

export function speech(language: Language): Speech {
  const t = translator(language);
  return {
    lang: language,
    dir: directionOf(language),
    t,
    th: (key, params) => html(t, language, key, params),
    number: (value) => formatNumber(value, language),
  };
}
