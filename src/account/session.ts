import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.ts';
import { deleteAccountSession, findAccountSession, insertAccountSession, updateAccountSession } from '../db/account-sessions.ts';
import { Phrase } from '../i18n/index.ts';
import type { Text } from '../http/views.ts';
import type { AccountSession } from './context.ts';

/**
 * The account page's own session, built like the console's (src/console/session.ts): the browser
 * holds a random token in a signed, HttpOnly cookie scoped to /account; the row (account_sessions) is
 * keyed by the token's SHA-256, in the database so it survives a restart and serves every instance.
 *
 * Shorter than the console's: this page adds sign-in methods (a passkey is a way in for as long as
 * it exists), so an unattended browser should not keep it open for long. It ends after
 * ACCOUNT_IDLE_MS without a request, ACCOUNT_ABSOLUTE_MS after sign-in whatever happens, at
 * sign-out, with the account, and when the account is suspended or its sessions are revoked.
 */
export const ACCOUNT_IDLE_MS = 15 * 60 * 1000;
export const ACCOUNT_ABSOLUTE_MS = 2 * 60 * 60 * 1000;
const TOUCH_EVERY_MS = 60 * 1000;

export const ACCOUNT_COOKIE = 'sesame_account';
/** The sign-in in progress (state, nonce, PKCE verifier, where to go back), for 10 minutes. */
export const ACCOUNT_PENDING_COOKIE = 'sesame_account_signin';
export const ACCOUNT_COOKIE_PATH = '/account';

interface SessionData {
  /** A one-time notice: plain text, or a phrase (key and values) said in the language of the page that shows it. */
  notice?: string | { key: string; params?: Record<string, unknown> };
}

/** A stored notice back as text or a Phrase; anything else (a row written by hand, an old shape) is no notice. */
function noticeOf(stored: unknown): Text | undefined {
  if (typeof stored === 'string') return stored;
  if (stored && typeof stored === 'object' && typeof (stored as { key?: unknown }).key === 'string') {
    const { key, params } = stored as { key: string; params?: unknown };
    if (!/^messages\.[\w.]+$/.test(key)) return undefined;
    return new Phrase(key, params && typeof params === 'object' ? (params as Record<string, unknown>) : {});
  }
  return undefined;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export function accountCookieOptions(secure: boolean, maxAgeSeconds: number) {
  return { path: ACCOUNT_COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure, signed: true, maxAge: maxAgeSeconds };
}

export function accountSessions(db: Database, secureCookies: boolean, now: () => number) {
  const readToken = (request: FastifyRequest): string | undefined => {
    const raw = request.cookies[ACCOUNT_COOKIE];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    return unsigned.valid && unsigned.value ? unsigned.value : undefined;
  };

  return {
    async create(reply: FastifyReply, userId: string): Promise<void> {
      const token = randomBytes(32).toString('base64url');
      const at = now();
      await insertAccountSession(db, { id: hash(token), userId, data: {}, createdAt: at, lastSeenAt: at, expiresAt: at + ACCOUNT_ABSOLUTE_MS });
      reply.setCookie(ACCOUNT_COOKIE, token, accountCookieOptions(secureCookies, ACCOUNT_ABSOLUTE_MS / 1000));
    },

    /** The live session of this request and its one-time notice (taken), or undefined (then deleted if stale). */
    async load(request: FastifyRequest): Promise<{ session: AccountSession; notice?: Text } | undefined> {
      const token = readToken(request);
      if (!token) return undefined;
      const row = await findAccountSession(db, hash(token));
      if (!row) return undefined;
      const at = now();
      if (row.expiresAt <= at || row.lastSeenAt + ACCOUNT_IDLE_MS <= at) {
        await deleteAccountSession(db, row.id);
        return undefined;
      }
      const data = row.data as SessionData;
      const notice = noticeOf(data.notice);
      if (data.notice !== undefined || at - row.lastSeenAt >= TOUCH_EVERY_MS) {
        await updateAccountSession(db, row.id, { lastSeenAt: at, ...(data.notice !== undefined && { data: {} }) });
      }
      return { session: { id: row.id, userId: row.userId, createdAt: row.createdAt, expiresAt: row.expiresAt }, notice };
    },

    /** Leaves `notice` for the next page of this session. */
    async setNotice(session: AccountSession, notice: Text): Promise<void> {
      const stored: SessionData['notice'] = notice instanceof Phrase ? { key: notice.key, params: { ...notice.params } } : notice;
      await updateAccountSession(db, session.id, { data: { notice: stored } });
    },

    async destroy(reply: FastifyReply, session?: AccountSession): Promise<void> {
      if (session) await deleteAccountSession(db, session.id);
      reply.clearCookie(ACCOUNT_COOKIE, { path: ACCOUNT_COOKIE_PATH });
    },
  };
}

export type AccountSessions = ReturnType<typeof accountSessions>;
