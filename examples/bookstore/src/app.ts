import { readFile } from 'node:fs/promises';
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import * as client from 'openid-client';
import { isRejectedToken, isUnreachable, lazyDiscovery, refreshed, SignInAgain, type SignedInUser } from './oidc.ts';
import { demoRedirectUris, trimTrailingSlash } from './registration.ts';
import type { DemoStore } from './store.ts';
import { Pages, type ErrorView } from './views.ts';

export interface DemoOptions {
  baseUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  store: DemoStore;
  mailboxUrl?: string;
  logger?: boolean | object;
}

interface PendingSignIn {
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
export const SCOPES = 'openid profile email offline_access';
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const SIGN_IN_TTL_MS = 30 * 60 * 1000;
const EXPIRY_MARGIN_MS = 30 * 1000;

const CALLBACK_ERRORS: Record<string, string> = {
  access_denied: 'You cancelled the sign-in.',
  login_required: 'You need to sign in to Sesame to continue.',
  consent_required: 'Sesame needs your consent before this app can sign you in.',
  interaction_required: 'Sesame needs you to finish signing in first.',
  invalid_request: 'Sesame could not understand the sign-in request from this app.',
  invalid_scope: 'This app asked Sesame for permissions it is not allowed to have.',
  unauthorized_client: 'Sesame does not allow this app to sign people in this way.',
  server_error: 'Sesame ran into a problem while signing you in.',
  temporarily_unavailable: 'Sesame is busy right now.',
};

/** The pages load one stylesheet and nothing else: no script, no frame, no form. */
function helmetOptions(secure: boolean) {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        // Over plain http (development on a LAN address) an upgrade would break the stylesheet.
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' as const },
    referrerPolicy: { policy: 'same-origin' as const },
    strictTransportSecurity: secure,
    crossOriginOpenerPolicy: secure,
  };
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** The Bookstore: a plain OIDC relying party that signs people in with Sesame. Builds only; never listens. */
export async function buildDemoApp(options: DemoOptions): Promise<FastifyInstance> {
  const baseUrl = trimTrailingSlash(options.baseUrl);
  const { callback: redirectUri, home: homeUrl } = demoRedirectUris(baseUrl);
  const secure = new URL(baseUrl).protocol === 'https:';
  const pages = new Pages({ mailboxUrl: options.mailboxUrl });
  const oidcConfig = lazyDiscovery(options);
  const css = await readFile(new URL('../public/bookstore.css', import.meta.url), 'utf8');

  const app = Fastify({
    logger: (options.logger ?? false) as FastifyServerOptions['logger'],
    // On https the app sits behind a TLS-terminating proxy; without this the session plugin
    // sees plain http and refuses to set its Secure cookie.
    trustProxy: secure,
  });

  await app.register(fastifyHelmet, helmetOptions(secure));
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: options.store.sessionSecret(),
    cookieName: SESSION_COOKIE,
    store: options.store.sessionStore(),
    saveUninitialized: false,
    rolling: true,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: WEEK_MS },
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('cache-control', 'no-store');
    return payload;
  });

  const sendPage = (reply: FastifyReply, status: number, page: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(page);
  const sendError = (reply: FastifyReply, status: number, view: ErrorView) =>
    sendPage(reply, status, pages.error(view));
  const sesameUnreachable = (reply: FastifyReply) =>
    sendError(reply, 503, {
      title: 'Sesame is not reachable',
      message: 'The sign-in service could not be reached right now. Please try again in a moment.',
      code: 'sesame_unreachable',
    });

  app.setErrorHandler((error, request, reply) => {
    request.log.error({ err: error }, 'demo request failed');
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return sendError(reply, status, { title: 'Bad request', message: 'That request could not be handled.' });
    }
    return sendError(reply, 500, { title: 'Something went wrong', message: 'The bookstore hit an unexpected problem. Please try again.' });
  });

  app.setNotFoundHandler((_request, reply) =>
    sendError(reply, 404, { title: 'Page not found', message: 'There is no page at this address.' }),
  );

  app.get('/bookstore.css', (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css),
  );

  app.get('/', (request, reply) => {
    const user = request.session.get('bookstoreUser');
    return sendPage(reply, 200, user ? pages.signedIn(user.claims) : pages.signedOut());
  });

  app.get('/sign-in', async (request, reply) => {
    let config: client.Configuration;
    try {
      config = await oidcConfig();
    } catch (error) {
      request.log.warn({ err: error }, 'Sesame discovery failed');
      return sesameUnreachable(reply);
    }
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    request.session.set('bookstorePending', { state, codeVerifier, startedAt: Date.now() });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPES,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      // Logto's SDKs send this on every sign-in; doing the same keeps the demo honest about that path.
      prompt: 'consent',
    });
    return reply.redirect(url.href, 303);
  });

  app.get('/callback', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const error = firstString(query.error);
    const state = firstString(query.state);
    const code = firstString(query.code);
    const pending = request.session.get('bookstorePending');
    const fresh = pending !== undefined && Date.now() - pending.startedAt < SIGN_IN_TTL_MS;
    const stateMatches = fresh && state !== undefined && state === pending.state;

    if (error) {
      if (stateMatches) request.session.set('bookstorePending', undefined);
      return sendError(reply, error === 'access_denied' ? 200 : 400, {
        title: error === 'access_denied' ? 'Sign-in cancelled' : 'Sign-in failed',
        message: CALLBACK_ERRORS[error] ?? 'Sesame could not sign you in.',
        code: error,
        // Only trust Sesame's own wording when this answer belongs to a sign-in we started.
        // For a cancel the sentence above says it all; Sesame's description would only repeat it.
        detail: stateMatches && error !== 'access_denied' ? firstString(query.error_description) : undefined,
        signInAgain: true,
      });
    }
    if (!pending || !fresh) {
      return sendError(reply, 400, {
        title: 'Sign-in expired',
        message: 'This sign-in was not started in this browser, or it took too long. Please sign in again.',
        code: 'no_pending_sign_in',
        signInAgain: true,
      });
    }
    if (!stateMatches) {
      return sendError(reply, 400, {
        title: 'Sign-in failed',
        message: 'The answer from Sesame does not match the sign-in this browser started, so it was ignored.',
        code: 'state_mismatch',
        signInAgain: true,
      });
    }
    if (!code) {
      return sendError(reply, 400, {
        title: 'Sign-in failed',
        message: 'Sesame did not send an authorization code back.',
        code: 'missing_code',
        signInAgain: true,
      });
    }
    request.session.set('bookstorePending', undefined);

    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      const config = await oidcConfig();
      const currentUrl = new URL(redirectUri);
      currentUrl.search = new URL(request.url, 'http://localhost').search;
      tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
      });
    } catch (exchangeError) {
      request.log.warn({ err: exchangeError }, 'authorization code exchange failed');
      if (isUnreachable(exchangeError)) return sesameUnreachable(reply);
      const oauthError = exchangeError instanceof client.ResponseBodyError ? exchangeError.error : undefined;
      return sendError(reply, 400, {
        title: 'Sign-in failed',
        message: 'The sign-in could not be completed: Sesame did not accept this app\'s request for tokens.',
        code: oauthError ?? 'token_exchange_failed',
        detail:
          exchangeError instanceof client.ResponseBodyError
            ? exchangeError.error_description
            : exchangeError instanceof Error
              ? exchangeError.message
              : undefined,
        signInAgain: true,
      });
    }

    const claims = tokens.claims();
    if (!claims) {
      return sendError(reply, 400, {
        title: 'Sign-in failed',
        message: 'Sesame did not return an ID token.',
        code: 'missing_id_token',
        signInAgain: true,
      });
    }
    // A fresh session id at sign-in, so an id planted before it cannot ride along.
    await request.session.regenerate();
    request.session.set('bookstoreUser', {
      claims: { ...claims },
      idToken: tokens.id_token,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      accessTokenExpiresAt: tokens.expires_in !== undefined ? Date.now() + tokens.expires_in * 1000 : undefined,
    });
    return reply.redirect('/', 303);
  });

  app.get('/profile', async (request, reply) => {
    let user = request.session.get('bookstoreUser');
    if (!user) return reply.redirect('/', 303);
    try {
      const config = await oidcConfig();
      const subject = typeof user.claims.sub === 'string' ? user.claims.sub : client.skipSubjectCheck;
      let didRefresh = false;
      if (user.accessTokenExpiresAt !== undefined && user.accessTokenExpiresAt - EXPIRY_MARGIN_MS <= Date.now()) {
        user = await refreshed(config, user);
        didRefresh = true;
        request.session.set('bookstoreUser', user);
      }
      let userinfo: client.UserInfoResponse;
      try {
        userinfo = await client.fetchUserInfo(config, user.accessToken, subject);
      } catch (error) {
        if (didRefresh || !isRejectedToken(error)) throw error;
        user = await refreshed(config, user);
        request.session.set('bookstoreUser', user);
        userinfo = await client.fetchUserInfo(config, user.accessToken, subject);
      }
      return sendPage(reply, 200, pages.profile({ ...userinfo }));
    } catch (error) {
      if (error instanceof SignInAgain || isRejectedToken(error)) {
        request.log.info({ err: error }, 'stored tokens no longer work; signing out locally');
        await request.session.destroy();
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return sendError(reply, 401, {
          title: 'Please sign in again',
          message: 'Your sign-in has expired or was ended at Sesame, so please sign in again.',
          code: 'session_expired',
          signInAgain: true,
        });
      }
      request.log.warn({ err: error }, 'userinfo failed');
      if (isUnreachable(error)) return sesameUnreachable(reply);
      return sendError(reply, 502, {
        title: 'Profile unavailable',
        message: 'Sesame gave an unexpected answer when asked for your profile.',
        code: 'userinfo_failed',
      });
    }
  });

  app.get('/sign-out', async (request, reply) => {
    const idToken = request.session.get('bookstoreUser')?.idToken;
    await request.session.destroy();
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    let config: client.Configuration;
    try {
      config = await oidcConfig();
    } catch (error) {
      request.log.warn({ err: error }, 'Sesame discovery failed; signed out locally only');
      return reply.redirect('/', 303);
    }
    if (!config.serverMetadata().end_session_endpoint) return reply.redirect('/', 303);
    const parameters: Record<string, string> = { client_id: options.clientId, post_logout_redirect_uri: homeUrl };
    if (idToken) parameters.id_token_hint = idToken;
    return reply.redirect(client.buildEndSessionUrl(config, parameters).href, 303);
  });

  return app;
}
