import type { FastifyRequest } from 'fastify';
import en from '../locales/en.json' with { type: 'json' };
import de from '../locales/de.json' with { type: 'json' };
import fr from '../locales/fr.json' with { type: 'json' };
import es from '../locales/es.json' with { type: 'json' };
import ja from '../locales/ja.json' with { type: 'json' };
import zhCN from '../locales/zh-CN.json' with { type: 'json' };
import ar from '../locales/ar.json' with { type: 'json' };

/**
 * The Bookstore's own languages, the same seven Sesame speaks. A small app needs no i18n library: its
 * phrases are keyed by their English words (locales/en.json lists them), with `{{name}}` values.
 * The language is the visitor's pick on the switcher (the `bookstore_lang` cookie), else the
 * browser's Accept-Language. A pick is also passed to Sesame as `ui_locales`, so the sign-in pages
 * speak it too; without one Sesame reads the same Accept-Language itself.
 */
export const LANGUAGES = ['en', 'de', 'fr', 'es', 'ja', 'zh-CN', 'ar'] as const;
export type Language = (typeof LANGUAGES)[number];
export type Phrase = keyof typeof en;

export const LANGUAGE_COOKIE = 'bookstore_lang';
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', de: 'Deutsch', fr: 'Français', es: 'Español', ja: '日本語', 'zh-CN': '简体中文', ar: 'العربية' };

const PHRASES: Record<Language, Record<Phrase, string>> = { en, de, fr, es, ja, 'zh-CN': zhCN, ar };

export const isLanguage = (value: unknown): value is Language => typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);

function match(tag: string): Language | undefined {
  const lower = tag.trim().toLowerCase();
  const exact = LANGUAGES.find((language) => language.toLowerCase() === lower);
  if (exact) return exact;
  const base = lower.split(/[-_]/)[0];
  return base === 'zh' ? 'zh-CN' : LANGUAGES.find((language) => language === base);
}

/** The visitor's pick, if any (then it goes to Sesame as ui_locales). */
export function pickedLanguage(request: FastifyRequest): Language | undefined {
  const cookie = request.cookies?.[LANGUAGE_COOKIE];
  return isLanguage(cookie) ? cookie : undefined;
}

/** The page's language: the pick, else Accept-Language by q-value, else English. Bad input is skipped. */
export function languageOf(request: FastifyRequest): Language {
  const picked = pickedLanguage(request);
  if (picked) return picked;
  const header = request.headers['accept-language'];
  if (typeof header !== 'string') return 'en';
  const wanted = header
    .slice(0, 1024)
    .split(',')
    .map((part, index) => {
      const [tag = '', q = 'q=1'] = part.split(';').map((piece) => piece.trim());
      const quality = Number(/^q=([\d.]+)$/.exec(q)?.[1] ?? NaN);
      return { tag, quality, index };
    })
    .filter((entry) => entry.tag !== '' && entry.quality > 0 && entry.quality <= 1)
    .sort((a, b) => b.quality - a.quality || a.index - b.index);
  for (const { tag } of wanted) {
    const language = match(tag);
    if (language) return language;
  }
  return 'en';
}

export const directionOf = (language: Language) => (language === 'ar' ? 'rtl' : 'ltr');

/** `phrase` in `language`, its `{{name}}` values filled in (not escaped: templates escape). */
export function translate(language: Language, phrase: Phrase, values: Record<string, string> = {}): string {
  const text = PHRASES[language][phrase] ?? PHRASES.en[phrase] ?? phrase;
  return text.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => values[name] ?? '');
}

/** A claim's time (seconds since 1970) as the visitor reads dates, in UTC. */
export function formatTime(language: Language, seconds: number): string {
  return new Intl.DateTimeFormat(language === 'ar' ? 'ar-u-nu-latn' : language, { dateStyle: 'medium', timeStyle: 'long', timeZone: 'UTC' }).format(new Date(seconds * 1000));
}
