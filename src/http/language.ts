import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { chooseLanguage, isLanguage, type Language, type LanguageInfo } from '../i18n/index.ts';

/**
 * The language switcher on every page: a link to /language/<code>?return=<this page> sets the
 * `sesame_lang` cookie and sends the browser back. The cookie is the person's own choice, so it wins
 * over what the app asked for (ui_locales) in this browser; see chooseLanguage.
 */
export const LANGUAGE_COOKIE = 'sesame_lang';
const ONE_YEAR = 365 * 24 * 60 * 60;
const MAX_RETURN = 2000;

/**
 * Where a page's switcher returns to: its own address for a GET; for a page a form POST answered
 * with (an error next to the field), the page that form lives on, since a GET to the POST's address
 * may not exist. Only a path on this origin, never another site.
 */
export function returnPath(request: Pick<FastifyRequest, 'method' | 'url'>): string {
  const url = request.url;
  if (request.method === 'GET' || request.method === 'HEAD') return url;
  const path = url.split('?')[0]!;
  // POST-only steps: the address form's post and the resend go back to the step that shows them.
  return path.replace(/\/(?:email|cancel|consent)$/, '').replace(/\/resend$/, '/code').replace(/\/skip-password$/, '/create-password');
}

/** A return address we send a browser to: a path on this origin (not `//host`, not `/\host`), or '/'. */
export function safeReturn(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_RETURN) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  // Control characters and backslashes anywhere could be read as a host by some browser.
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return '/';
  return value;
}

/** The language of a page with no interaction behind it (errors, the front page): cookie, Accept-Language, fallback. */
export function requestLanguage(request: Pick<FastifyRequest, 'headers'> & { cookies?: Record<string, string | undefined> }, info?: LanguageInfo): Language {
  return chooseLanguage({ acceptLanguage: request.headers['accept-language'], cookie: request.cookies?.[LANGUAGE_COOKIE], info });
}

const switchParams = z.object({ language: z.string().max(20) });
const switchQuery = z.object({ return: z.unknown().optional() });

/** GET /language/:language?return=PATH. An unknown language or a foreign return address is ignored, never an error. */
export function languageRoutes(app: FastifyInstance, { secureCookies }: { secureCookies: boolean }): void {
  app.get('/language/:language', async (request, reply) => {
    const params = switchParams.safeParse(request.params);
    const query = switchQuery.safeParse(request.query);
    const target = safeReturn(query.success ? query.data.return : undefined);
    const language = params.success ? params.data.language : '';
    if (isLanguage(language)) {
      reply.setCookie(LANGUAGE_COOKIE, language, { path: '/', sameSite: 'lax', secure: secureCookies, httpOnly: true, maxAge: ONE_YEAR });
    }
    return reply.header('cache-control', 'no-store').redirect(target, 303);
  });
}
