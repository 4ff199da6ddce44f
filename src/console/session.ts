import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { deleteConsoleSession, findConsoleSession, insertConsoleSession, updateConsoleSession, type ConsoleSessionRow } from '../db/console-sessions.ts';

/**
 * The admin console's own session (a backend-for-frontend session): the browser holds only a random
 * token in a signed, HttpOnly cookie scoped to /console; the administrator's tokens stay on the server
 * in a console_sessions row keyed by the token's SHA-256. In the database rather than in memory, so a
 * session survives a restart and every instance (PostgreSQL, WORKERS) sees it.
 *
 * It ends after CONSOLE_IDLE_MS without a request, CONSOLE_ABSOLUTE_MS after sign-in whatever
 * happens, at sign-out, and when the account loses the admin role.
 */
export const CONSOLE_IDLE_MS = 30 * 60 * 1000;
export const CONSOLE_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
/** last_seen_at is written at most this often: a page view should not always cost a write. */
const TOUCH_EVERY_MS = 60 * 1000;

export const SESSION_COOKIE = 'sesame_console';
/** The sign-in in progress (state, nonce, PKCE verifier, where to go back), for 10 minutes. */
export const PENDING_COOKIE = 'sesame_console_signin';

export interface ConsoleSessionData {
  email: string;
  accessToken: string;
  /** ms since the epoch. */
  accessTokenExpiresAt: number;
  refreshToken: string;
  /** Shown once on the next page (e.g. a new App Secret), then dropped. */
  flash?: { kind: 'secret'; applicationId: string; secret: string } | { kind: 'notice'; text: string };
}

export interface ConsoleSession {
  id: string;
  userId: string;
  data: ConsoleSessionData;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export function cookieOptions(secure: boolean, maxAgeSeconds: number) {
  return { path: '/console', httpOnly: true, sameSite: 'lax' as const, secure, signed: true, maxAge: maxAgeSeconds };
}

export function consoleSessions(db: Database, secureCookies: boolean, now: () => number) {
  const readToken = (request: FastifyRequest): string | undefined => {
    const raw = request.cookies[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    return unsigned.valid && unsigned.value ? unsigned.value : undefined;
  };

  return {
    async create(reply: FastifyReply, userId: string, data: ConsoleSessionData): Promise<void> {
      const token = randomBytes(32).toString('base64url');
      const at = now();
      await insertConsoleSession(db, { id: hash(token), userId, data: { ...data }, createdAt: at, lastSeenAt: at, expiresAt: at + CONSOLE_ABSOLUTE_MS });
      reply.setCookie(SESSION_COOKIE, token, cookieOptions(secureCookies, CONSOLE_ABSOLUTE_MS / 1000));
    },

    /** The live session of this request, or undefined (none, expired, idle too long: then deleted). */
    async load(request: FastifyRequest): Promise<ConsoleSession | undefined> {
      const token = readToken(request);
      if (!token) return undefined;
      const row: ConsoleSessionRow | undefined = await findConsoleSession(db, hash(token));
      if (!row) return undefined;
      const at = now();
      if (row.expiresAt <= at || row.lastSeenAt + CONSOLE_IDLE_MS <= at) {
        await deleteConsoleSession(db, row.id);
        return undefined;
      }
      if (at - row.lastSeenAt >= TOUCH_EVERY_MS) await updateConsoleSession(db, row.id, { lastSeenAt: at });
      return { id: row.id, userId: row.userId, data: row.data as unknown as ConsoleSessionData };
    },

    async save(session: ConsoleSession): Promise<void> {
      await updateConsoleSession(db, session.id, { data: { ...session.data } });
    },

    async destroy(reply: FastifyReply, session?: ConsoleSession): Promise<void> {
      if (session) await deleteConsoleSession(db, session.id);
      reply.clearCookie(SESSION_COOKIE, { path: '/console' });
    },
  };
}

export type ConsoleSessions = ReturnType<typeof consoleSessions>;
