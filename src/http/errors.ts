import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.ts';
import { UNAVAILABLE } from '../health.ts';
import type { Views } from './views.ts';

/**
 * How every error our routes (and unknown addresses) end in is answered: a readable page for people,
 * JSON for programs, 503 + Retry-After when the database cannot serve, and a log line for every 5xx.
 * Set on the root instance before any plugin scope, so every route inherits it.
 */
export function answerErrors(app: FastifyInstance, views: Views): void {
  app.setNotFoundHandler((request, reply) => problem(request, reply, views, 404, 'Page not found', 'There is nothing at this address.'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code?.startsWith('FST_CSRF')) {
      return problem(request, reply, views, 403, 'This form has expired', 'Go back, reload the page and try again.');
    }
    if (error.statusCode === 429) {
      return problem(request, reply, views, 429, 'Too many requests', 'Please wait a minute and try again.');
    }
    if (error.validation || (error.statusCode && error.statusCode < 500)) {
      return problem(request, reply, views, error.statusCode ?? 400, 'That request was not understood', error.message);
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error, reason: error.reason }, `database unavailable (${error.reason}): ${error.message}`);
      reply.header('retry-after', String(UNAVAILABLE.retryAfterSeconds));
      return problem(request, reply, views, 503, UNAVAILABLE.title, UNAVAILABLE.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return problem(request, reply, views, 500, 'Something went wrong', 'Please try again. If it keeps happening, contact the site’s owner.');
  });
}

/**
 * HTML for people, JSON for programs: JSON when the matched route is a JSON document (/health, a
 * `*.json` route such as /dev/mail.json) or the caller asks for JSON and not for HTML; every page,
 * and an address that matches no route, gets the HTML page.
 */
function problem(request: FastifyRequest, reply: FastifyReply, views: Views, status: number, title: string, message: string) {
  reply.code(status).header('cache-control', 'no-store');
  const route = request.routeOptions.url ?? '';
  const accept = request.headers.accept ?? '';
  const jsonRoute = route === '/health' || route.endsWith('.json');
  const asksJson = /\bapplication\/(?:[\w.-]+\+)?json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
  if (jsonRoute || asksJson) return reply.send({ error: title, message });
  return reply.type('text/html; charset=utf-8').send(views.render('error', { title, message }));
}
