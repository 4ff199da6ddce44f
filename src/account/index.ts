import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/csrf-protection';
import type { Config } from '../config/index.ts';
import { isDatabaseUnavailable, type Database } from '../db/database.ts';
import { findUserById } from '../db/users.ts';
import type { Text, Views } from '../http/views.ts';
import { requestLanguage } from '../http/language.ts';
import { render, type Language } from '../i18n/index.ts';
import { loadExperience } from '../sign-in/experience.ts';
import { message } from '../sign-in/messages.ts';
import { relyingParty } from '../passkeys/webauthn.ts';
import { passkeyPages } from './passkeys.ts';
import { accountOidc, AccountSignInError, type PendingAccountSignIn } from './oidc.ts';
import { ACCOUNT_COOKIE_PATH, ACCOUNT_PENDING_COOKIE, accountCookieOptions, accountSessions } from './session.ts';
import type { AccountContext, AccountKit, AccountPage, AccountSection } from './context.ts';

export interface AccountPageDeps {
  config: Readonly<Config>;
  db: Database;
  views: Views;
  jwks: () => Promise<string>;
  now: () => number;
  /** Parts plugged in by other modules (the second factor); see src/account/context.ts. */
  sections?: readonly AccountSection[];
}

/** Only a path inside the account page, never another site (`//evil.example` or `/\evil`). */
const safeReturnTo = (value: unknown) => (typeof value === 'string' && /^\/account(?:[/?#]|$)/.test(value) && !/[\\\s]/.test(value) ? value : '/account');

const from = (request: FastifyRequest) => {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, ...(typeof agent === 'string' && { userAgent: agent }) };
};

/**
 * The person's own account page at /account (issue 17): who they are, their passkeys, and the
 * sections other modules add (the second factor). Signed in through Sesame itself as the first-party
 * app `sesame-account` (oidc.ts), with a server-side session (session.ts). Registered in the pages
 * scope (cookies, form bodies, CSRF, security headers), in a scope of its own for its error pages.
 */
export async function accountPages(pages: FastifyInstance, deps: AccountPageDeps): Promise<void> {
  const { config, db, views } = deps;
  const oidc = accountOidc(pages, deps);
  const sessions = accountSessions(db, config.secureCookies, deps.now);
  const sections = deps.sections ?? [];
  const nav = [{ id: 'overview', href: '/account', label: message('account.nav.overview') as Text }, ...sections.map((section) => ({ id: section.id, href: section.path, label: section.label }))];

  /**
   * The account pages' language, as on every other page without an interaction: the switcher's
   * cookie, then Accept-Language (unless the experience turned that off), then the fallback.
   */
  const languageOf = async (request: FastifyRequest): Promise<Language> => {
    const { languageInfo } = await loadExperience(db, config.codeTtlMinutes);
    return requestLanguage(request, languageInfo);
  };
  /** Where the switcher comes back to: this page after a GET, else the account page (a POST's address has no page). */
  const hereOf = (request: FastifyRequest) => (request.method === 'GET' || request.method === 'HEAD' ? safeReturnTo(request.url) : '/account');

  /** A page outside the signed-in layout (signed out, a problem). */
  const standalone = async (reply: FastifyReply, data: { title: Text; message: Text; backUrl?: string; backLabel?: Text }, status: number) =>
    reply
      .code(status)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(views.render('account/problem', { ...data, lang: await languageOf(reply.request), here: hereOf(reply.request) }));

  const signInAgain = async (request: FastifyRequest, reply: FastifyReply) => {
    // A script's request (passkeys.js posts JSON; forms never do): a message it can show, not a sign-in page.
    if (request.method !== 'GET' && /^application\/json\b/.test(request.headers['content-type'] ?? '')) {
      return reply.code(401).header('cache-control', 'no-store').send({ error: 'signed_out', message: render(message('account.signedOutScript'), await languageOf(request)) });
    }
    return reply.redirect(`/account/sign-in${request.method === 'GET' ? `?return_to=${encodeURIComponent(request.url)}` : ''}`, 303);
  };

  async function requireAccount(request: FastifyRequest, reply: FastifyReply): Promise<AccountContext | undefined> {
    const loaded = await sessions.load(request);
    if (!loaded) {
      await signInAgain(request, reply);
      return undefined;
    }
    const { session, notice } = loaded;
    const user = await findUserById(db, session.userId);
    if (!user || user.isSuspended) {
      await sessions.destroy(reply, session);
      if (!user) {
        await signInAgain(request, reply);
        return undefined;
      }
      await standalone(reply, { title: message('account.suspended.title'), message: message('account.suspended.message') }, 403);
      return undefined;
    }
    const section = request.routeOptions.config?.accountSection;
    const lang = await languageOf(request);
    const here = hereOf(request);
    return {
      user,
      session,
      notice,
      lang,
      render(reply, page, data, status = 200) {
        const shown = data.notice !== undefined ? (data.notice as Text) : notice;
        return reply
          .code(status)
          .header('cache-control', 'no-store')
          .type('text/html; charset=utf-8')
          .send(views.render(page, { ...data, nav, section, email: user.email, csrfToken: reply.generateCsrf(), notice: shown, lang, here }));
      },
      async redirect(reply, to, next) {
        if (next) await sessions.setNotice(session, next);
        return reply.redirect(safeReturnTo(to), 303);
      },
    };
  }

  const page = (handler: AccountPage) =>
    async function accountPage(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const ctx = await requireAccount(request, reply);
      if (!ctx) return reply;
      return handler(request, reply, ctx);
    };

  await pages.register(async (scope) => {
    const kit: AccountKit = { config, db, views, now: deps.now, requireAccount, page, csrf: scope.csrfProtection };
    scope.decorate('sesameAccount', kit);

    scope.setErrorHandler((error: FastifyError, request, reply) => {
      if (error.code?.startsWith('FST_CSRF')) {
        return standalone(reply, { title: message('account.csrf.title'), message: message('account.csrf.message'), backUrl: '/account' }, 403);
      }
      if (isDatabaseUnavailable(error)) {
        request.log.error({ err: error }, 'account page: database unavailable');
        return standalone(reply, { title: message('account.unavailable.title'), message: message('account.unavailable.message') }, 503);
      }
      if (error.statusCode && error.statusCode < 500) {
        return standalone(reply, { title: message('account.badRequest.title'), message: message('account.badRequest.message'), backUrl: '/account' }, error.statusCode);
      }
      request.log.error({ err: error }, 'account page: unexpected error');
      return standalone(reply, { title: message('account.server.title'), message: message('account.server.message'), backUrl: '/account' }, 500);
    });

    scope.get('/account/sign-in', async (request, reply) => {
      const returnTo = safeReturnTo((request.query as Record<string, unknown>).return_to);
      if (await sessions.load(request)) return reply.redirect(returnTo, 303);
      const { pending, url } = oidc.start(returnTo);
      reply.setCookie(ACCOUNT_PENDING_COOKIE, JSON.stringify(pending), accountCookieOptions(config.secureCookies, 600));
      return reply.redirect(url, 303);
    });

    scope.get('/account/callback', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const raw = request.cookies[ACCOUNT_PENDING_COOKIE];
      const unsigned = raw ? request.unsignCookie(raw) : undefined;
      reply.clearCookie(ACCOUNT_PENDING_COOKIE, { path: ACCOUNT_COOKIE_PATH });
      let pending: PendingAccountSignIn | undefined;
      try {
        pending = unsigned?.valid && unsigned.value ? (JSON.parse(unsigned.value) as PendingAccountSignIn) : undefined;
      } catch {
        pending = undefined;
      }
      const again = { backUrl: '/account/sign-in', backLabel: message('account.signInAgain') };
      const incomplete = message('account.incomplete.title');
      if (!pending || typeof query.state !== 'string' || query.state !== pending.state) {
        return standalone(reply, { title: incomplete, message: message('account.incomplete.state'), ...again }, 400);
      }
      if (typeof query.error === 'string') {
        const description = typeof query.error_description === 'string' ? query.error_description : query.error;
        return standalone(reply, { title: incomplete, message: message('account.incomplete.answered', { description }), ...again }, 400);
      }
      if (typeof query.code !== 'string') return standalone(reply, { title: incomplete, message: message('account.incomplete.noCode'), ...again }, 400);
      const result = await oidc.finish(query.code, pending, from(request)).catch((error: unknown) => {
        if (error instanceof AccountSignInError) return { failed: error.message };
        throw error;
      });
      if ('failed' in result) return standalone(reply, { title: incomplete, message: message('account.incomplete.refused', { reason: result.failed }), ...again }, 400);
      await sessions.create(reply, result.userId);
      return reply.redirect(safeReturnTo(pending.returnTo), 303);
    });

    scope.post('/account/sign-out', { preHandler: scope.csrfProtection }, async (request, reply) => {
      const loaded = await sessions.load(request);
      await sessions.destroy(reply, loaded?.session);
      // Ends the Sesame session too (RP-initiated logout); no confirmation for our registered URI.
      return reply.redirect(oidc.endSessionUrl(), 303);
    });

    scope.get('/account/signed-out', async (_request, reply) =>
      standalone(reply, { title: message('account.signedOut.title'), message: message('account.signedOut.message'), backUrl: '/account/sign-in', backLabel: message('account.signInAgain') }, 200),
    );

    const passkeys = passkeyPages(scope, kit, relyingParty(config.endpoint), (ctx) =>
      Promise.all(sections.map(async (section) => ({ label: section.label, href: section.path, summary: section.summary ? await section.summary(ctx) : undefined }))),
    );
    scope.get('/account', { config: { accountSection: 'overview' } }, page(async (_request, reply, ctx) => passkeys.overview(reply, ctx)));
    for (const section of sections) await section.routes(scope, kit);
  });
}
