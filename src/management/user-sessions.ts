import type { Queryable } from '../db/database.ts';
import { findApplication } from '../db/applications.ts';
import { findUserById } from '../db/users.ts';
import { listModelsOfAccount } from '../db/oidc-models.ts';
import { AuditType, listAuditLogs, type AuditRecord } from '../audit/log.ts';
import { NotFoundError } from './errors.ts';

/**
 * What a person is signed in with, as far as Sesame stores it: their browser sessions (oidc-provider's
 * Session: when they signed in, how, which apps they signed in to) and the refresh tokens apps hold
 * for them (each refresh rotates the token, so the newest token's issue time is when the app was last
 * active). A session stores no browser or address; those come from the audit log's sign-in record
 * made at the same moment, when it is still kept.
 */
export interface UserSession {
  /** The session's uid (oidc-provider's sessionUid, also on the refresh tokens issued in it). */
  id: string;
  /** false: the browser session has ended (signed out, expired) but an app still holds a refresh token from it. */
  active: boolean;
  signedInAt: number | null;
  expiresAt: number | null;
  /** The newest refresh-token issue in this session (a sign-in or a refresh), or the sign-in. */
  lastActiveAt: number | null;
  signInMethods: string[];
  ip: string | null;
  userAgent: string | null;
  applications: { id: string; name: string | null; refreshTokenExpiresAt: number | null }[];
}

interface SessionPayload {
  uid?: string;
  loginTs?: number;
  amr?: string[];
  authorizations?: Record<string, unknown>;
}
interface RefreshTokenPayload {
  clientId?: string;
  sessionUid?: string;
  iat?: number;
  authTime?: number;
  amr?: string[];
}

const parse = <T>(text: string): T => {
  try {
    return JSON.parse(text) as T;
  } catch {
    return {} as T;
  }
};
const ms = (seconds: number | undefined) => (typeof seconds === 'number' ? seconds * 1000 : null);

/** How far from a session's sign-in time its audit record may be (the record is written first, the session a moment later). */
const MATCH_WINDOW_MS = 2 * 60 * 1000;
const SIGN_IN_EVENTS = new Set<string>([AuditType.SignIn, AuditType.Register, AuditType.ForgotPassword]);

export async function listUserSessions(db: Queryable, userId: string, now = Date.now()): Promise<UserSession[]> {
  if (!(await findUserById(db, userId))) throw new NotFoundError('user', userId);
  const rows = await listModelsOfAccount(db, userId, ['Session', 'RefreshToken'], now);
  const sessions = new Map<string, UserSession>();
  const appIds = new Set<string>();

  for (const row of rows.filter((entry) => entry.model === 'Session')) {
    const payload = parse<SessionPayload>(row.payload);
    const id = payload.uid ?? row.id;
    const clients = Object.keys(payload.authorizations ?? {});
    clients.forEach((client) => appIds.add(client));
    sessions.set(id, {
      id,
      active: true,
      signedInAt: ms(payload.loginTs),
      expiresAt: row.expiresAt,
      lastActiveAt: ms(payload.loginTs),
      signInMethods: payload.amr ?? [],
      ip: null,
      userAgent: null,
      applications: clients.map((client) => ({ id: client, name: null, refreshTokenExpiresAt: null })),
    });
  }

  for (const row of rows.filter((entry) => entry.model === 'RefreshToken')) {
    const token = parse<RefreshTokenPayload>(row.payload);
    if (!token.clientId) continue;
    appIds.add(token.clientId);
    const id = token.sessionUid ?? `token:${row.id}`;
    let session = sessions.get(id);
    if (!session) {
      session = { id, active: false, signedInAt: ms(token.authTime), expiresAt: null, lastActiveAt: null, signInMethods: token.amr ?? [], ip: null, userAgent: null, applications: [] };
      sessions.set(id, session);
    }
    const issued = ms(token.iat);
    if (issued !== null && (session.lastActiveAt === null || issued > session.lastActiveAt)) session.lastActiveAt = issued;
    let app = session.applications.find((entry) => entry.id === token.clientId);
    if (!app) {
      app = { id: token.clientId, name: null, refreshTokenExpiresAt: null };
      session.applications.push(app);
    }
    if (row.expiresAt !== null && (app.refreshTokenExpiresAt === null || row.expiresAt > app.refreshTokenExpiresAt)) app.refreshTokenExpiresAt = row.expiresAt;
  }

  const names = new Map<string, string | null>();
  for (const id of appIds) names.set(id, (await findApplication(db, id))?.name ?? null);
  for (const session of sessions.values()) for (const app of session.applications) app.name = names.get(app.id) ?? null;

  // The browser and address of each sign-in, from its audit record.
  const times = [...sessions.values()].map((session) => session.signedInAt).filter((at): at is number => at !== null);
  if (times.length) {
    const { rows: events } = await listAuditLogs(db, {
      userId,
      type: 'Interaction.*',
      from: Math.min(...times) - MATCH_WINDOW_MS,
      to: Math.max(...times) + MATCH_WINDOW_MS,
      page: 1,
      pageSize: 500,
    });
    const signIns = events.filter((event: AuditRecord) => SIGN_IN_EVENTS.has(event.type) && event.result === 'success');
    for (const session of sessions.values()) {
      if (session.signedInAt === null) continue;
      const at = session.signedInAt;
      let best: AuditRecord | undefined;
      for (const event of signIns) {
        const distance = Math.abs(event.createdAt - at);
        if (distance <= MATCH_WINDOW_MS && (!best || distance < Math.abs(best.createdAt - at))) best = event;
      }
      if (best) {
        session.ip = best.ip;
        session.userAgent = best.userAgent;
      }
    }
  }

  return [...sessions.values()].sort((a, b) => (b.lastActiveAt ?? 0) - (a.lastActiveAt ?? 0));
}
