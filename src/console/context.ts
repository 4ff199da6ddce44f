import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Config } from '../config/index.ts';
import type { Views } from '../http/views.ts';
import { apiClient, type ApiClient } from './api.ts';
import type { ConsoleOidc } from './oidc.ts';
import type { ConsoleSession, ConsoleSessionData, ConsoleSessions } from './session.ts';

/** What every console page handler gets: the signed-in administrator's session and API. */
export interface ConsoleContext {
  session: ConsoleSession;
  api: ApiClient;
  /** Renders a console page (templates/pages/console/NAME.eta) inside the console layout. */
  render(reply: FastifyReply, page: string, data: Record<string, unknown> & { title: string }, status?: number): FastifyReply;
  /** Sets a one-time message for the next page, then redirects there (303: the browser GETs it). */
  redirect(reply: FastifyReply, to: string, flash?: ConsoleSessionData['flash']): Promise<FastifyReply>;
  /** The one-time message set by the previous request, if any (read once). */
  flash: ConsoleSessionData['flash'];
}

export interface ConsoleDeps {
  config: Readonly<Config>;
  views: Views;
  sessions: ConsoleSessions;
  oidc: ConsoleOidc;
  now: () => number;
}

/** Which nav entry a page belongs to (the layout marks it as the current page). */
export type Section = 'overview' | 'applications' | 'users' | 'resources' | 'experience' | 'email' | 'logs';

export const NAV: { section: Section; href: string; label: string }[] = [
  { section: 'overview', href: '/console', label: 'Overview' },
  { section: 'applications', href: '/console/applications', label: 'Applications' },
  { section: 'users', href: '/console/users', label: 'Users' },
  { section: 'resources', href: '/console/resources', label: 'API resources' },
  { section: 'experience', href: '/console/sign-in-experience', label: 'Sign-in experience' },
  { section: 'email', href: '/console/email', label: 'Email' },
  { section: 'logs', href: '/console/logs', label: 'Audit log' },
];

/** Refresh the management API token this long before it expires. */
const REFRESH_BEFORE_MS = 60 * 1000;

/**
 * Loads the session behind a console request and keeps its access token fresh. Two requests of one
 * session refreshing at once in this process share one refresh (the console's refresh token is not
 * rotated, so two instances refreshing at once are harmless too).
 */
export function contextLoader(app: FastifyInstance, deps: ConsoleDeps) {
  const refreshing = new Map<string, Promise<void>>();

  async function freshToken(request: FastifyRequest, session: ConsoleSession): Promise<void> {
    if (session.data.accessTokenExpiresAt - REFRESH_BEFORE_MS > deps.now()) return;
    let running = refreshing.get(session.id);
    if (!running) {
      running = (async () => {
        const tokens = await deps.oidc.refresh(session.data.refreshToken, from(request));
        session.data.accessToken = tokens.accessToken;
        session.data.accessTokenExpiresAt = tokens.accessTokenExpiresAt;
        if (tokens.refreshToken) session.data.refreshToken = tokens.refreshToken;
        await deps.sessions.save(session);
      })().finally(() => refreshing.delete(session.id));
      refreshing.set(session.id, running);
    }
    await running;
  }

  return async function load(request: FastifyRequest): Promise<ConsoleContext | undefined> {
    const session = await deps.sessions.load(request);
    if (!session) return undefined;
    await freshToken(request, session);
    const flash = session.data.flash;
    if (flash) {
      delete session.data.flash;
      await deps.sessions.save(session);
    }
    const section = (request.routeOptions.config as { section?: Section } | undefined)?.section;
    return {
      session,
      flash,
      api: apiClient(app, request, session.data.accessToken),
      render(reply, page, data, status = 200) {
        return reply
          .code(status)
          .header('cache-control', 'no-store')
          .type('text/html; charset=utf-8')
          .send(deps.views.render(`console/${page}`, { ...data, nav: NAV, section, admin: { email: session.data.email }, csrfToken: reply.generateCsrf(), flash }));
      },
      async redirect(reply, to, next) {
        if (next) {
          session.data.flash = next;
          await deps.sessions.save(session);
        }
        return reply.redirect(to, 303);
      },
    };
  };
}

export const from = (request: FastifyRequest) => {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, ...(typeof agent === 'string' && { userAgent: agent }) };
};

/** A console page: runs only for a signed-in administrator, with their context. */
export type ConsolePage = (request: FastifyRequest, reply: FastifyReply, ctx: ConsoleContext) => Promise<unknown>;
export type PageRoute = (handler: ConsolePage) => RouteHandlerMethod;
/** Route options naming the nav section a page belongs to. */
export const sectionOf = (section: Section) => ({ config: { section } });

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The console's nav section of the route (see NAV). */
    section?: Section;
  }
}
