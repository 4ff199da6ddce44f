import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { DemoContext } from '../context.ts';
import { isUnreachable } from '../oidc.ts';
import type { PendingSignIn } from '../plugins/session.ts';
import type { ErrorView } from '../views.ts';
import { pickedLanguage, type Phrase } from '../i18n.ts';

export const SCOPES = 'openid profile email offline_access';
/** A sign-in not finished within this long has to start over. */
const SIGN_IN_TTL_MS = 30 * 60 * 1000;

/** Sesame's error codes (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) in words. */
const CALLBACK_ERRORS: Record<string, Phrase> = {
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

const SIGN_IN_EXPIRED: ErrorView = {
  title: 'Sign-in expired',
  message: 'This sign-in was not started in this browser, or it took too long. Please sign in again.',
  code: 'no_pending_sign_in',
  signInAgain: true,
};
const STATE_MISMATCH: ErrorView = {
  title: 'Sign-in failed',
  message: 'The answer from Sesame does not match the sign-in this browser started, so it was ignored.',
  code: 'state_mismatch',
  signInAgain: true,
};
const MISSING_CODE: ErrorView = {
  title: 'Sign-in failed',
  message: 'Sesame did not send an authorization code back.',
  code: 'missing_code',
  signInAgain: true,
};
const MISSING_ID_TOKEN: ErrorView = {
  title: 'Sign-in failed',
  message: 'Sesame did not return an ID token.',
  code: 'missing_id_token',
  signInAgain: true,
};

/** A query parameter as Fastify parses it: repeated, it arrives as a list, and the first value counts. */
type QueryValue = string | string[] | undefined;
const queryValue = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } as const;

/** What Sesame sends back to /callback. Anything else (iss, session_state) passes through untouched. */
interface CallbackQuery {
  code?: QueryValue;
  state?: QueryValue;
  error?: QueryValue;
  error_description?: QueryValue;
}
const callbackSchema = {
  querystring: {
    type: 'object',
    properties: { code: queryValue, state: queryValue, error: queryValue, error_description: queryValue },
  },
} as const;

type CallbackCheck =
  | { accepted: true; pending: PendingSignIn }
  | { accepted: false; status: number; view: ErrorView; forgetPending: boolean };

type Tokens = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/** /sign-in sends the browser to Sesame (code flow, PKCE S256); /callback takes its answer. */
export const signInRoutes: FastifyPluginAsync<DemoContext> = async (app, ctx) => {
  app.get('/sign-in', (request, reply) => startSignIn(ctx, request, reply));
  app.get<{ Querystring: CallbackQuery }>('/callback', { schema: callbackSchema }, (request, reply) =>
    finishSignIn(ctx, request, reply),
  );
};

async function startSignIn(ctx: DemoContext, request: FastifyRequest, reply: FastifyReply) {
  let config: client.Configuration;
  try {
    config = await ctx.oidcConfig();
  } catch (error) {
    request.log.warn({ err: error }, 'Sesame discovery failed');
    return ctx.replies.sesameUnreachable(reply);
  }
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  request.session.set('bookstorePending', { state, codeVerifier, startedAt: Date.now() });
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: ctx.redirectUri,
    scope: SCOPES,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    // Logto's SDKs send this on every sign-in; doing the same keeps the demo honest about that path.
    prompt: 'consent',
    // The language the visitor picked here: Sesame's pages and the code's mail speak it too.
    ...(pickedLanguage(request) ? { ui_locales: pickedLanguage(request)! } : {}),
  });
  return reply.redirect(url.href, 303);
}

async function finishSignIn(ctx: DemoContext, request: FastifyRequest<{ Querystring: CallbackQuery }>, reply: FastifyReply) {
  const check = checkCallback(request.query, request.session.get('bookstorePending'));
  if (!check.accepted) {
    if (check.forgetPending) request.session.set('bookstorePending', undefined);
    return ctx.replies.error(reply, check.status, check.view);
  }
  request.session.set('bookstorePending', undefined);

  let tokens: Tokens;
  try {
    tokens = await exchangeCode(ctx, request.url, check.pending);
  } catch (error) {
    request.log.warn({ err: error }, 'authorization code exchange failed');
    if (isUnreachable(error)) return ctx.replies.sesameUnreachable(reply);
    return ctx.replies.error(reply, 400, exchangeFailure(error));
  }

  const claims = tokens.claims();
  if (!claims) return ctx.replies.error(reply, 400, MISSING_ID_TOKEN);
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
}

/** Whether Sesame's answer belongs to the sign-in this browser started, fresh and with a code. */
function checkCallback(query: CallbackQuery, pending: PendingSignIn | undefined): CallbackCheck {
  const error = firstString(query.error);
  const state = firstString(query.state);
  const fresh = pending !== undefined && Date.now() - pending.startedAt < SIGN_IN_TTL_MS;
  const stateMatches = fresh && state !== undefined && state === pending.state;

  if (error) {
    // Only trust Sesame's own wording when this answer belongs to a sign-in we started.
    const description = stateMatches ? firstString(query.error_description) : undefined;
    return { accepted: false, forgetPending: stateMatches, ...sesameRefusal(error, description) };
  }
  if (!pending || !fresh) return { accepted: false, forgetPending: false, status: 400, view: SIGN_IN_EXPIRED };
  if (!stateMatches) return { accepted: false, forgetPending: false, status: 400, view: STATE_MISMATCH };
  if (!firstString(query.code)) return { accepted: false, forgetPending: false, status: 400, view: MISSING_CODE };
  return { accepted: true, pending };
}

/** The page for an error Sesame sent back instead of a code; a cancel is not the visitor's failure. */
function sesameRefusal(error: string, description: string | undefined): { status: number; view: ErrorView } {
  const cancelled = error === 'access_denied';
  return {
    status: cancelled ? 200 : 400,
    view: {
      title: cancelled ? 'Sign-in cancelled' : 'Sign-in failed',
      message: (Object.hasOwn(CALLBACK_ERRORS, error) ? CALLBACK_ERRORS[error] : undefined) ?? 'Sesame could not sign you in.',
      code: error,
      // For a cancel the message says it all; Sesame's description would only repeat it.
      detail: cancelled ? undefined : description,
      signInAgain: true,
    },
  };
}

/** The code for tokens at Sesame's token endpoint, presenting the callback URL as Sesame sent it. */
async function exchangeCode(ctx: DemoContext, requestUrl: string, pending: PendingSignIn): Promise<Tokens> {
  const config = await ctx.oidcConfig();
  const currentUrl = new URL(ctx.redirectUri);
  currentUrl.search = new URL(requestUrl, 'http://localhost').search;
  return client.authorizationCodeGrant(config, currentUrl, {
    pkceCodeVerifier: pending.codeVerifier,
    expectedState: pending.state,
  });
}

/** Sesame answered the token request, but not with tokens. */
function exchangeFailure(error: unknown): ErrorView {
  const refusal = error instanceof client.ResponseBodyError ? error : undefined;
  return {
    title: 'Sign-in failed',
    message: 'The sign-in could not be completed: Sesame did not accept this app\'s request for tokens.',
    code: refusal?.error ?? 'token_exchange_failed',
    detail: refusal ? refusal.error_description : error instanceof Error ? error.message : undefined,
    signInAgain: true,
  };
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
