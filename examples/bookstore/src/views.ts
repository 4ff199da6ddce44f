import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { directionOf, formatTime, LANGUAGE_NAMES, LANGUAGES, translate, type Language, type Phrase } from './i18n.ts';

export interface PageContext {
  mailboxUrl?: string;
}

export interface ErrorView {
  /** The Bookstore's own words (translated); `detail` is Sesame's, shown as sent. */
  title: Phrase;
  message: Phrase;
  code?: string;
  detail?: string;
  signInAgain?: boolean;
}

interface ClaimRow {
  name: string;
  value: string;
}

const TIME_CLAIMS = new Set(['iat', 'exp', 'auth_time', 'updated_at', 'nbf']);

function formatClaim(name: string, value: unknown, language: Language): string {
  if (typeof value === 'number' && TIME_CLAIMS.has(name)) return `${value} (${formatTime(language, value)})`;
  if (value === null) return translate(language, '(not set)');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const claimRows = (claims: Record<string, unknown>, language: Language): ClaimRow[] =>
  Object.entries(claims).map(([name, value]) => ({ name, value: formatClaim(name, value, language) }));

/**
 * The Bookstore's pages: eta templates in ../views, every `<%= %>` HTML-escaped (the one escape), so
 * nothing Sesame or the query string sends can add markup.
 */
export class Pages {
  private readonly eta = new Eta({
    views: fileURLToPath(new URL('../views', import.meta.url)),
    autoEscape: true,
    cache: true,
    useWith: false,
  });

  constructor(private readonly ctx: PageContext) {}

  signedOut(language: Language, here: string): string {
    return this.render(language, here, 'signed-out', { title: translate(language, 'Welcome') });
  }

  signedIn(claims: Record<string, unknown>, language: Language, here: string): string {
    const who = typeof claims.email === 'string' ? claims.email : String(claims.sub ?? 'unknown user');
    return this.render(language, here, 'signed-in', { title: translate(language, 'Your account'), who, claims: claimRows(claims, language) });
  }

  profile(userinfo: Record<string, unknown>, language: Language, here: string): string {
    return this.render(language, here, 'profile', { title: translate(language, 'Profile'), claims: claimRows(userinfo, language) });
  }

  error(view: ErrorView, language: Language): string {
    // An error page has no switcher: its address may be a one-off (a callback), not a page to return to.
    return this.render(language, undefined, 'error', { ...view, title: translate(language, view.title), message: translate(language, view.message) });
  }

  private render(language: Language, here: string | undefined, page: string, data: Record<string, unknown>): string {
    const languages = here
      ? LANGUAGES.map((code) => ({ code, name: LANGUAGE_NAMES[code], current: code === language, href: `/language/${code}?return=${encodeURIComponent(here).replaceAll('%2F', '/')}` }))
      : [];
    return this.eta.render(`./${page}`, {
      mailboxUrl: this.ctx.mailboxUrl,
      lang: language,
      dir: directionOf(language),
      t: (phrase: Phrase, values?: Record<string, string>) => translate(language, phrase, values),
      languages,
      ...data,
    });
  }
}
