import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/database.ts';
import type { OidcPages } from './pages.ts';
import { UNAVAILABLE } from '../health.ts';
import { chooseLanguage, Phrase } from '../i18n/index.ts';
import { LANGUAGE_COOKIE } from '../http/language.ts';

type Logger = Pick<FastifyBaseLogger, 'error'>;

/**
 * Faults inside oidc-provider. It answers an unexpected error with a bare 500 (`server_error`) and
 * logs nothing; here every such error is logged with its cause, the request id and the path, and
 * one caused by the database becomes a 503 with Retry-After: the readable "temporarily
 * unavailable" page for a browser, `temporarily_unavailable` JSON for the token endpoint and other
 * APIs.
 *
 * Call it before the provider's `callback()` is taken (buildApp does that): koa composes its
 * middleware then. `logTo` gives the logger for requests that did not come through fastify (those
 * that did log through their own request logger, which carries the request id).
 */
export function handleOidcFaults(provider: Provider, pages: OidcPages): { logTo(logger: Logger): void } {
  let fallback: Logger = { error: (object: unknown, message?: string) => console.error(message ?? '', object) };
  const faults = new WeakMap<object, unknown>();

  const log = (ctx: KoaContextWithOIDC, error: unknown) => {
    const req = ctx.req as IncomingMessage & { log?: Logger; originalUrl?: string };
    const path = (req.originalUrl ?? ctx.originalUrl).split('?')[0];
    const logger = req.log ?? fallback;
    if (isDatabaseUnavailable(error)) {
      logger.error({ err: error, reason: error.reason, method: ctx.method, path }, `database unavailable (${error.reason}): ${error.message}`);
    } else {
      logger.error({ err: error, method: ctx.method, path }, `server error in ${ctx.method} ${path}: ${(error as Error)?.message ?? String(error)}`);
    }
  };

  // oidc-provider's own error handlers answer first; the event tells which error it was.
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: unknown) => {
    faults.set(ctx, error);
    log(ctx, error);
  });

  provider.use(async (ctx, next) => {
    let error: unknown;
    let html: boolean;
    try {
      await next();
      if (ctx.status !== 500) return;
      error = faults.get(ctx);
      // Answer in the form oidc-provider chose: its error page for browsers, JSON for the rest.
      html = Boolean(ctx.response.is('html'));
    } catch (escaped) {
      // Outside oidc-provider's route error handlers (its own middleware, ours): koa would answer
      // a bare 500 and print a stack to stderr.
      log(ctx as KoaContextWithOIDC, escaped);
      error = escaped;
      html = ctx.accepts('json', 'html') === 'html';
      ctx.status = 500;
      // The answer may have been a redirect whose writes then failed (request-writes.ts): it must not be followed.
      ctx.remove('Location');
      if (!isDatabaseUnavailable(escaped)) {
        ctx.type = 'text/plain';
        ctx.body = 'Internal Server Error';
        return;
      }
    }
    if (!isDatabaseUnavailable(error)) return;
    ctx.status = 503;
    ctx.set('Retry-After', String(UNAVAILABLE.retryAfterSeconds));
    ctx.set('Cache-Control', 'no-store');
    if (html) {
      ctx.type = 'html';
      // No database read here (it is what failed): the language comes from the request alone.
      const lang = chooseLanguage({ acceptLanguage: ctx.get('accept-language'), cookie: ctx.cookies.get(LANGUAGE_COOKIE, { signed: false }) });
      ctx.body = pages.render('error', { title: new Phrase('errors.unavailable.title'), message: new Phrase('errors.unavailable.message'), lang });
    } else {
      ctx.type = 'json';
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again later' };
    }
  });

  return {
    logTo(logger) {
      fallback = logger;
    },
  };
}
