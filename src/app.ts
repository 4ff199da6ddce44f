import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.ts';
import { isDatabaseUnavailable, type Database } from './db/database.ts';
import type { Views } from './http/views.ts';
import type { CodeService } from './sign-in/codes.ts';
import type { Mailer } from './mail/mailer.ts';
import type { Lockout } from './sign-in/lockout.ts';
import type { PasswordHasher } from './sign-in/passwords.ts';
import type { DevMailbox } from './mail/dev-mailbox.ts';
import { interactionRoutes } from './sign-in/routes/index.ts';
import { mountOidc } from './http/oidc.ts';
import { helmetOptions } from './http/security-headers.ts';
import { fastifyTrustProxy } from './lib/request.ts';
import { healthRoute, UNAVAILABLE } from './health.ts';
import { createKnownDevices } from './sign-in/known-devices.ts';

export interface AppDeps {
  config: Readonly<Config>;
  db: Database;
  provider: Provider;
  views: Views;
  codes: CodeService;
  lockout: Lockout;
  passwords: PasswordHasher;
  mailer: () => Mailer;
  cookieKeys: readonly string[];
  devMailbox?: DevMailbox;
  now?: () => number;
  logger?: boolean | object;
}

/** Builds the whole HTTP surface. No listening and no side effects: main.ts and tests decide those. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db, provider, views } = deps;
  const app = Fastify({
    logger: deps.logger ?? false,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: 64 * 1024,
  });

  // Set before any plugin scope is created so every route inherits them.
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

  await app.register(rateLimit, {
    global: true,
    max: config.limits.requestsPerIpPerMinute,
    timeWindow: '1 minute',
    allowList: (request) => request.url === '/health',
  });

  await mountOidc(app, { config, db, provider, now: deps.now ?? Date.now });

  // Sesame's own pages. CSRF lives in this scope only: the token endpoints should not pay for page
  // plumbing on every call. Their security headers come from the same definition as those mountOidc
  // gives /oidc and the 404 page (src/http/security-headers.ts).
  await app.register(async (pages) => {
    await pages.register(helmet, helmetOptions(config));
    await pages.register(cookie, { secret: [...deps.cookieKeys] });
    await pages.register(formbody);
    await pages.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: '_sesame_csrf',
      cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies, signed: true },
    });

    healthRoute(pages, { db });

    const assets: Record<string, { type: string; body: Buffer }> = {
      'sesame.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(config.paths.public, 'sesame.css')) },
      'sesame.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(config.paths.public, 'sesame.js')) },
      'dev-mail.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(config.paths.public, 'dev-mail.css')) },
    };
    pages.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
      const asset = assets[request.params.file];
      if (!asset) return reply.code(404).type('text/plain').send('Not found');
      return reply.header('cache-control', 'public, max-age=3600').type(asset.type).send(asset.body);
    });

    pages.get('/', async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(
        views.render('error', {
          title: 'Sesame is running',
          message: `This is a sign-in service. Apps send people here to sign in; its OpenID Connect issuer is ${config.issuer}.`,
        }),
      ),
    );

    if (deps.devMailbox) await pages.register((await import('./mail/dev-mailbox-routes.ts')).devMailboxRoutes(deps.devMailbox, views));

    // The sign-in routes' schemas are zod: they validate and type each route's params, query and body.
    await pages.register(async (scope) => {
      scope.setValidatorCompiler(validatorCompiler);
      scope.setSerializerCompiler(serializerCompiler);
      await interactionRoutes(scope, {
        provider,
        db,
        views,
        codes: deps.codes,
        mailer: deps.mailer,
        now: deps.now ?? Date.now,
        lockout: deps.lockout,
        knownDevices: createKnownDevices(deps.cookieKeys, config.secureCookies),
        passwords: deps.passwords,
        codeTtlMinutes: config.codeTtlMinutes,
        logCodes: config.env !== 'production',
      });
    });
  });

  return app;
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
