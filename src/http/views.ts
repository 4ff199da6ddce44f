import { Eta } from 'eta';
import { DEFAULT_LANGUAGE, isLanguage, LANGUAGE_NAMES, LANGUAGES, Phrase, speech, type Language, type Speech } from '../i18n/index.ts';

/** Text a page shows: plain (a name, an address) or a phrase translated for the page's language. */
export type Text = string | Phrase;

export interface PageData {
  title: Text;
  appName?: Text;
  csrfToken?: string;
  error?: Text;
  notice?: Text;
  /** The page's language (src/i18n chooses it); English when absent. */
  lang?: Language;
  /** Where the language switcher returns to: this page's address (a path); no switcher without it. */
  here?: string;
  [key: string]: unknown;
}

export interface Views {
  render(page: string, data: PageData): string;
}

/** Phrases anywhere in the page's data (a title, an error, a scope's description) become text in `language`. */
function translated(value: unknown, words: Speech): unknown {
  if (value instanceof Phrase) return words.t(value.key, value.params);
  if (Array.isArray(value)) return value.map((item) => translated(item, words));
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, translated(item, words)]));
  }
  return value;
}

/** The switcher's links: each language, named in itself, through /language/<code> back to `here`. */
function switcher(current: Language, here: string | undefined) {
  if (!here) return [];
  return LANGUAGES.map((language) => ({
    code: language,
    name: LANGUAGE_NAMES[language],
    current: language === current,
    // Slashes may stay as they are in a query (RFC 3986): the link reads as the page it returns to.
    href: `/language/${language}?return=${encodeURIComponent(here).replaceAll('%2F', '/')}`,
  }));
}

/**
 * One renderer for every page, used by fastify routes and by oidc-provider's hooks alike. Every page
 * gets `lang`, `dir`, `t` (text, escaped by `<%= %>`), `th` (a sentence with marked-up values, for
 * `<%~ %>`) and `number`, for the language in `data.lang`.
 */
export function createViews(pagesDir: string, cache: boolean): Views {
  const eta = new Eta({ views: pagesDir, autoEscape: true, cache, useWith: false });
  return {
    render: (page, data) => {
      const language = isLanguage(data.lang) ? data.lang : DEFAULT_LANGUAGE;
      const words = speech(language);
      const translatedData = translated({ ...data }, words) as Record<string, unknown>;
      return eta.render(`./${page}`, {
        productName: 'Sesame',
        ...translatedData,
        ...words,
        languages: switcher(language, data.here),
      });
    },
  };
}
