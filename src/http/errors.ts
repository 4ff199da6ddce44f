import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.ts';
import { UNAVAILABLE } from '../health.ts';
import { DEFAULT_LANGUAGE_INFO, Phrase, render, type LanguageInfo } from '../i18n/index.ts';
import { requestLanguage } from './language.ts';
import type { Views } from './views.ts';

/** An error page's words: phrases under `errors.<name>` in locales/*.json, and an optional detail. */
interface Problem {
  status: number;
  name: 'notFound' | 'csrf' | 'tooManyRequests' | 'badRequest' | 'unavailable' | 'server';
  /** Words of the error itself (a validation message), shown as they are, instead of the phrase's message. */
  detail?: string;
}

/**
 * How every error our routes (and unknown addresses) end in is answered: a readable page for people,
 * in their language, JSON (English) for programs, 503 + Retry-After when the database cannot serve,
 * and a log line for every 5xx. Set on the root instance before any plugin scope, so every route inherits it.
 * `languageInfo` gives the sign-in experience's language setting; it is not asked while the database is down.
 */
export function answerErrors(app: FastifyInstance, views: Views, languageInfo?: () => Promise<LanguageInfo>): void {
  const answer = (request: FastifyRequest, reply: FastifyReply, problem: Problem, databaseDown = false) =>
    send(request, reply, views, problem, databaseDown || !languageInfo ? undefined : languageInfo);
  app.setNotFoundHandler((request, reply) => answer(request, reply, { status: 404, name: 'notFound' }));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code?.startsWith('FST_CSRF')) return answer(request, reply, { status: 403, name: 'csrf' });
    if (error.statusCode === 429) return answer(request, reply, { status: 429, name: 'tooManyRequests' });
    if (error.validation || (error.statusCode && error.statusCode < 500)) {
      return answer(request, reply, { status: error.statusCode ?? 400, name: 'badRequest', detail: error.message });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error, reason: error.reason }, `database unavailable (${error.reason}): ${error.message}`);
      reply.header('retry-after', String(UNAVAILABLE.retryAfterSeconds));
      return answer(request, reply, { status: 503, name: 'unavailable' }, true);
    }
    request.log.error({ err: error }, 'unhandled error');
    return answer(request, reply, { status: 500, name: 'server' });
  });
}

/**
 * HTML for people, JSON for programs: JSON when the matched route is a JSON document (/health, a
 * `*.json` route such as /dev/mail.json) or the caller asks for JSON and not for HTML; every page,
 * and an address that matches no route, gets the HTML page.
 */
async function send(request: FastifyRequest, reply: FastifyReply, views: Views, problem: Problem, languageInfo?: () => Promise<LanguageInfo>) {
  reply.code(problem.status).header('cache-control', 'no-store');
  const route = request.routeOptions.url ?? '';
  const accept = request.headers.accept ?? '';
  const jsonRoute = route === '/health' || route.endsWith('.json');
  const asksJson = /\bapplication\/(?:[\w.-]+\+)?json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
  const title = new Phrase(`errors.${problem.name}.title`);
  const message = problem.detail ?? new Phrase(`errors.${problem.name}.message`);
  if (jsonRoute || asksJson) return reply.send({ error: render(title, 'en'), message: render(message, 'en') });
  const info = languageInfo ? await languageInfo().catch(() => DEFAULT_LANGUAGE_INFO) : DEFAULT_LANGUAGE_INFO;
  const lang = requestLanguage(request, info);
  // No switcher on these dead ends (a wrong address, a refused request): the language is still the person's.
  return reply.type('text/html; charset=utf-8').send(views.render('error', { title, message, lang }));
}
