import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import type { User } from '../db/users.ts';
import type { Text, Views } from '../http/views.ts';
import type { Language } from '../i18n/index.ts';

/**
 * The contract between the account page (${ENDPOINT}/account, src/account/index.ts) and the parts
 * that plug into it (the second factor: src/account/mfa*.ts).
 *
 * The account page is a first-party OIDC client of Sesame's own (App ID `sesame-account`): a person
 * signs in through Sesame's sign-in pages, and gets a server-side session (account_sessions, see
 * session.ts) held by a signed, HttpOnly cookie scoped to /account. Every request re-reads the
 * account: a deleted or suspended account ends the session at once.
 *
 * To add a part (a "section"): build an AccountSection and pass it in `sections` where app.ts
 * registers the account page. Its routes are registered in the account page's scope (cookies, form
 * bodies, CSRF via `kit.csrf`, security headers, the account error pages), under /account/...; each
 * handler wrapped in `kit.page(...)` runs only for a signed-in, non-suspended person. Templates of a
 * section live in templates/pages/account/ and start with `<% layout('./layout') %>`; render them
 * with `ctx.render(reply, 'account/NAME', { title, ... })`, which adds what the layout needs (nav,
 * email, CSRF token, one-time notice).
 */

/** A signed-in account session (one row of account_sessions). */
export interface AccountSession {
  /** SHA-256 of the cookie's token (never the token itself). */
  id: string;
  userId: string;
  /** ms since the epoch. */
  createdAt: number;
  expiresAt: number;
}

/** What every account page handler gets. */
export interface AccountContext {
  /** The signed-in person, read fresh from the database on this request; never suspended. */
  user: User;
  session: AccountSession;
  /** The one-time notice the previous request left (see redirect), read once. */
  notice: Text | undefined;
  /** The page's language: the switcher's cookie, then Accept-Language (unless turned off), then the fallback. */
  lang: Language;
  /**
   * Renders templates/pages/NAME.eta (e.g. 'account/mfa') inside the account layout: adds `nav`,
   * `section` (the route's config.accountSection), `email`, `csrfToken` and `notice`. no-store.
   */
  render(reply: FastifyReply, page: string, data: Record<string, unknown> & { title: Text }, status?: number): FastifyReply;
  /** 303 to `to` (a path under /account), showing `notice` once on the next page. */
  redirect(reply: FastifyReply, to: string, notice?: Text): Promise<FastifyReply>;
}

export type AccountPage = (request: FastifyRequest, reply: FastifyReply, ctx: AccountContext) => Promise<unknown>;

/** What a section's routes get from the account page. */
export interface AccountKit {
  config: Readonly<Config>;
  db: Database;
  views: Views;
  now: () => number;
  /**
   * The signed-in person behind this request, or undefined after answering the request itself: a
   * 303 to /account/sign-in (which comes back to this URL after a GET) when there is no live session,
   * a 403 page when the account is suspended.
   */
  requireAccount(request: FastifyRequest, reply: FastifyReply): Promise<AccountContext | undefined>;
  /** Wraps a handler so it runs only with a signed-in person (requireAccount) and gets their context. */
  page(handler: AccountPage): RouteHandlerMethod;
  /** CSRF check for form POSTs (preHandler); every form carries `_csrf` = it.csrfToken. */
  csrf: FastifyInstance['csrfProtection'];
}

/**
 * A part of the account page. The overview (/account) lists each section's summary in its
 * "Security" area with a link to `path`; the layout's nav shows `label`.
 */
export interface AccountSection {
  /** Stable id: the nav marks it current on routes with `{ config: { accountSection: id } }`. */
  id: string;
  /** Nav label and heading of the summary, e.g. 'Two-step verification' (a phrase, in the page's language). */
  label: Text;
  /** The section's main page, under /account (e.g. '/account/mfa'). */
  path: string;
  /** Registers the section's routes (paths under /account/) in the account page's scope. */
  routes(scope: FastifyInstance, kit: AccountKit): void | Promise<void>;
  /** One line for the overview's Security area (e.g. 'On: authenticator app'); optional. */
  summary?(ctx: AccountContext): Promise<Text | undefined>;
}

/** Route options naming the account nav entry a page belongs to. */
export const accountSectionOf = (accountSection: string) => ({ config: { accountSection } });

/** The kit of the account page, once registered (for code that has only a request). */
export function requireAccount(request: FastifyRequest, reply: FastifyReply): Promise<AccountContext | undefined> {
  const kit = (request.server as FastifyInstance & { sesameAccount?: AccountKit }).sesameAccount;
  if (!kit) throw new Error('requireAccount: the account page is not registered in this scope');
  return kit.requireAccount(request, reply);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The account page's nav entry of the route (AccountSection.id, or 'overview' / 'passkeys'). */
    accountSection?: string;
  }
}
