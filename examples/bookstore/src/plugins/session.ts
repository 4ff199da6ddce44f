import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SignedInUser } from '../oidc.ts';
import type { DemoStore } from '../store.ts';

/** A sign-in this browser started and Sesame has not answered yet. */
export interface PendingSignIn {
  state: string;
  codeVerifier: string;
  startedAt: number;
}

declare module 'fastify' {
  interface Session {
    bookstorePending?: PendingSignIn;
    bookstoreUser?: SignedInUser;
  }
}

export const SESSION_COOKIE = 'bookstore_sid';
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** Server-side sessions in the Bookstore's own SQLite file; the cookie carries only a signed id. */
export async function registerSessions(app: FastifyInstance, store: DemoStore, secure: boolean): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: store.sessionSecret(),
    cookieName: SESSION_COOKIE,
    store: store.sessionStore(),
    saveUninitialized: false,
    rolling: true,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: WEEK_MS },
  });
}

/** Forgets the visitor here: the stored session and the cookie that named it. */
export async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await request.session.destroy();
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
