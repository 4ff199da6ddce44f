import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { DemoContext } from '../context.ts';
import { isRejectedToken, isUnreachable, refreshed, SignInAgain, type SignedInUser } from '../oidc.ts';
import { endSession } from '../plugins/session.ts';
import type { ErrorView } from '../views.ts';
import { languageOf } from '../i18n.ts';

/** Refresh this long before the access token's stated expiry, so it does not lapse in flight. */
const EXPIRY_MARGIN_MS = 30 * 1000;

const SESSION_EXPIRED: ErrorView = {
  title: 'Please sign in again',
  message: 'Your sign-in has expired or was ended at Sesame, so please sign in again.',
  code: 'session_expired',
  signInAgain: true,
};

const PROFILE_UNAVAILABLE: ErrorView = {
  title: 'Profile unavailable',
  message: 'Sesame gave an unexpected answer when asked for your profile.',
  code: 'userinfo_failed',
};

/** /profile: the visitor's userinfo from Sesame, refreshing the access token when it has to. */
export const profileRoutes: FastifyPluginAsync<DemoContext> = async (app, ctx) => {
  app.get('/profile', (request, reply) => showProfile(ctx, request, reply));
};

async function showProfile(ctx: DemoContext, request: FastifyRequest, reply: FastifyReply) {
  const user = request.session.get('bookstoreUser');
  if (!user) return reply.redirect('/', 303);
  try {
    const config = await ctx.oidcConfig();
    const userinfo = await fetchProfile(config, user, (next) => request.session.set('bookstoreUser', next));
    return ctx.replies.page(reply, 200, ctx.pages.profile({ ...userinfo }, languageOf(request), '/profile'));
  } catch (error) {
    return profileFailure(ctx, request, reply, error);
  }
}

/**
 * userinfo for `user`: refreshes first when the access token is about to expire, or once after
 * Sesame refuses a token that looked current. `save` keeps every refreshed set of tokens.
 */
async function fetchProfile(
  config: client.Configuration,
  user: SignedInUser,
  save: (user: SignedInUser) => void,
): Promise<client.UserInfoResponse> {
  const subject = typeof user.claims.sub === 'string' ? user.claims.sub : client.skipSubjectCheck;
  let current = user;
  const refresh = async () => {
    current = await refreshed(config, current);
    save(current);
  };
  const expiring = user.accessTokenExpiresAt !== undefined && user.accessTokenExpiresAt - EXPIRY_MARGIN_MS <= Date.now();
  if (expiring) await refresh();
  try {
    return await client.fetchUserInfo(config, current.accessToken, subject);
  } catch (error) {
    if (expiring || !isRejectedToken(error)) throw error;
    await refresh();
    return client.fetchUserInfo(config, current.accessToken, subject);
  }
}

/** Tokens Sesame no longer accepts end the local session; anything else leaves it alone. */
async function profileFailure(ctx: DemoContext, request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (error instanceof SignInAgain || isRejectedToken(error)) {
    request.log.info({ err: error }, 'stored tokens no longer work; signing out locally');
    await endSession(request, reply);
    return ctx.replies.error(reply, 401, SESSION_EXPIRED);
  }
  request.log.warn({ err: error }, 'userinfo failed');
  if (isUnreachable(error)) return ctx.replies.sesameUnreachable(reply);
  return ctx.replies.error(reply, 502, PROFILE_UNAVAILABLE);
}
