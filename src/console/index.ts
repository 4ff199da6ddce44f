import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/csrf-protection';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import type { Views } from '../http/views.ts';
import { isDatabaseUnavailable } from '../db/database.ts';
import { ApiAccessLost, ApiFailure } from './api.ts';
import { contextLoader, from, type ConsoleContext, type ConsoleDeps, type PageRoute } from './context.ts';
import { consoleOidc, TokenError, type PendingSignIn } from './oidc.ts';
import { consoleSessions, cookieOptions, PENDING_COOKIE } from './session.ts';
import { overviewRoutes } from './pages/overview.ts';
import { applicationRoutes } from './pages/applications.ts';
import { userRoutes } from './pages/users.ts';
import { resourceRoutes } from './pages/resources.ts';
import { experienceRoutes } from './pages/experience.ts';
import { emailRoutes } from './pages/email.ts';
import { logRoutes } from './pages/logs.ts';

export interface AdminConsoleDeps {
  config: Readonly<Config>;
  db: Database;
  views: Views;
  jwks: () => Promise<string>;
  now: () => number;
}

const ASSETS = { 'console.css': 'text/css; charset=utf-8', 'console.js': 'text/javascript; charset=utf-8' } as const;

/** Only a path inside the console, never another site (`//evil.example` or `/\evil`). */
const safeReturnTo = (value: unknown) => (typeof value === 'string' && /^\/console(?:[/?#]|$)/.test(value) && !/[\\\s]/.test(value) ? value : '/console');

/**
 * The admin console at /console (issue 15): server-rendered pages in the pages scope (its cookie
 * plugin, CSRF and security headers), a backend-for-frontend session (session.ts) and every read and
 * write through the management API with the administrator's own token (api.ts).
 */
export async function adminConsole(pages: FastifyInstance, deps: AdminConsoleDeps): Promise<void> {
  const { config, views } = deps;
  const oidc = consoleOidc(pages, deps);
  const sessions = consoleSessions(deps.db, config.secureCookies, deps.now);
  const consoleDeps: ConsoleDeps = { config, views, sessions, oidc, now: deps.now };
  const load = contextLoader(pages, consoleDeps);

  const assets = new Map(Object.entries(ASSETS).map(([file, type]) => [file, { type, body: readFileSync(join(config.paths.public, file)) }]));
  for (const [file, asset] of assets) {
    pages.get(`/assets/${file}`, async (_request, reply) => reply.header('cache-control', 'public, max-age=3600').type(asset.type).send(asset.body));
  }

  /** A page outside the signed-in layout (not an administrator, signed out, a failed sign-in). */
  const standalone = (reply: FastifyReply, page: string, data: Record<string, unknown> & { title: string }, status = 200) =>
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(views.render(`console/${page}`, { csrfToken: reply.generateCsrf(), ...data }));

  const notAdministrator = (reply: FastifyReply, email?: string) =>
    standalone(reply, 'not-admin', { title: 'You are not an administrator', email, signOutUrl: oidc.endSessionUrl() }, 403);

  const signInAgain = (request: FastifyRequest, reply: FastifyReply) =>
    reply.redirect(`/console/sign-in${request.method === 'GET' ? `?return_to=${encodeURIComponent(request.url)}` : ''}`, 303);

  const page: PageRoute = (handler) =>
    async function consolePage(request, reply) {
      let ctx: ConsoleContext | undefined;
      try {
        ctx = await load(request);
        if (!ctx) return await signInAgain(request, reply);
        return await handler(request, reply, ctx);
      } catch (error) {
        // The administrator lost access (role taken back, suspended, account deleted, grant revoked):
        // this console session is over.
        if (error instanceof ApiAccessLost || error instanceof TokenError) {
          const session = ctx?.session ?? (await sessions.load(request));
          await sessions.destroy(reply, session);
          if ((error instanceof ApiAccessLost && error.status === 403) || (error instanceof TokenError && error.notAdministrator)) {
            return notAdministrator(reply, session?.data.email);
          }
          return signInAgain(request, reply);
        }
        throw error;
      }
    };

  await pages.register(async (scope) => {
    // No site frames the console, not even this one (clickjacking): only the two preview routes,
    // which set their own CSP, may be framed, by the console's own pages.
    scope.addHook('onRequest', (_request, reply, done) => {
      const csp = reply.raw.getHeader('content-security-policy');
      if (typeof csp === 'string') reply.raw.setHeader('content-security-policy', csp.replace(/frame-ancestors [^;]*/, "frame-ancestors 'none'"));
      reply.raw.setHeader('x-frame-options', 'DENY');
      done();
    });
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      if (error.code?.startsWith('FST_CSRF')) {
        return standalone(reply, 'problem', { title: 'This form has expired', message: 'The page was open too long or the cookies were cleared. Go back, reload the page and try again.', backUrl: '/console' }, 403);
      }
      if (error instanceof ApiFailure && error.status === 404) {
        return standalone(reply, 'problem', { title: 'Not found', message: `${error.problem.message[0]?.toUpperCase() ?? ''}${error.problem.message.slice(1)}: it may have been deleted.`, backUrl: '/console' }, 404);
      }
      if (error instanceof ApiFailure && error.status < 500) {
        return standalone(reply, 'problem', { title: 'That request was refused', message: `${error.problem.message[0]?.toUpperCase() ?? ''}${error.problem.message.slice(1)}.`, backUrl: '/console' }, error.status);
      }
      if (isDatabaseUnavailable(error)) {
        request.log.error({ err: error }, 'console: database unavailable');
        return standalone(reply, 'problem', { title: 'Sesame is unavailable', message: 'The database cannot be reached right now. Try again in a minute.' }, 503);
      }
      if (error.statusCode && error.statusCode < 500) {
        return standalone(reply, 'problem', { title: 'That request was not understood', message: error.message, backUrl: '/console' }, error.statusCode);
      }
      request.log.error({ err: error }, 'console: unexpected error');
      return standalone(reply, 'problem', { title: 'Something went wrong', message: 'The console could not finish this request; nothing you did caused it. Try again, and look at the server log if it persists.', backUrl: '/console' }, 500);
    });

    scope.get('/console/sign-in', async (request, reply) => {
      const returnTo = safeReturnTo((request.query as Record<string, unknown>).return_to);
      // Already signed in to the console (a bookmark, the back button): straight there.
      if (await sessions.load(request)) return reply.redirect(returnTo, 303);
      const { pending, url } = await oidc.start(returnTo);
      reply.setCookie(PENDING_COOKIE, JSON.stringify(pending), cookieOptions(config.secureCookies, 600));
      return reply.redirect(url, 303);
    });

    scope.get('/console/callback', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const raw = request.cookies[PENDING_COOKIE];
      const unsigned = raw ? request.unsignCookie(raw) : undefined;
      reply.clearCookie(PENDING_COOKIE, { path: '/console' });
      let pending: PendingSignIn | undefined;
      try {
        pending = unsigned?.valid && unsigned.value ? (JSON.parse(unsigned.value) as PendingSignIn) : undefined;
      } catch {
        pending = undefined;
      }
      if (!pending || typeof query.state !== 'string' || query.state !== pending.state) {
        // Another tab's sign-in, a bookmarked callback, or a sign-in that took over 10 minutes.
        return standalone(reply, 'problem', { title: 'Sign-in did not complete', message: 'This sign-in was started in another tab or took too long. Start again.', backUrl: '/console/sign-in' }, 400);
      }
      if (typeof query.error === 'string') {
        const description = typeof query.error_description === 'string' ? query.error_description : query.error;
        return standalone(reply, 'problem', { title: 'Sign-in did not complete', message: `Sesame answered: ${description}.`, backUrl: '/console/sign-in' }, 400);
      }
      if (typeof query.code !== 'string') return standalone(reply, 'problem', { title: 'Sign-in did not complete', message: 'The answer from the sign-in page had no code. Start again.', backUrl: '/console/sign-in' }, 400);
      const result = await oidc.finish(query.code, pending, from(request)).catch((error: unknown) => {
        if (error instanceof TokenError) return { failed: error.message };
        throw error;
      });
      if ('failed' in result) {
        return standalone(reply, 'problem', { title: 'Sign-in did not complete', message: `Sesame refused the sign-in: ${result.failed}.`, backUrl: '/console/sign-in' }, 400);
      }
      if ('notAdministrator' in result) return notAdministrator(reply, result.email);
      const { tokens } = result;
      await sessions.create(reply, result.userId, {
        email: result.email,
        accessToken: tokens.accessToken,
        accessTokenExpiresAt: tokens.accessTokenExpiresAt,
        refreshToken: tokens.refreshToken!,
      });
      return reply.redirect(pending.returnTo, 303);
    });

    scope.post('/console/sign-out', { preHandler: scope.csrfProtection }, async (request, reply) => {
      const session = await sessions.load(request);
      if (session) await oidc.revoke(session.data.refreshToken, from(request)).catch(() => undefined);
      await sessions.destroy(reply, session);
      // Ends the Sesame session too (RP-initiated logout): completes without a click for our registered URI.
      return reply.redirect(oidc.endSessionUrl(), 303);
    });

    scope.get('/console/signed-out', async (_request, reply) => standalone(reply, 'signed-out', { title: 'Signed out' }));

    overviewRoutes(scope, page);
    applicationRoutes(scope, page, config);
    userRoutes(scope, page);
    resourceRoutes(scope, page);
    experienceRoutes(scope, page, views);
    emailRoutes(scope, page, { views, config });
    logRoutes(scope, page);
  });
}
