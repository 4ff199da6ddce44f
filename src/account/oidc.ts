import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import { ACCOUNT_APPLICATION_ID, findApplication, type Application } from '../db/applications.ts';
import { ensureFirstPartyClient } from '../management/applications.ts';

/**
 * The account page as an OIDC client of its own Sesame (App ID `sesame-account`), like the admin
 * console (src/console/oidc.ts): a confidential, first-party client with PKCE that signs the person
 * in through Sesame's own pages. It needs only who signed in (the verified ID token): it asks for
 * `openid email`, no refresh token and no API token, and keeps nothing of the tokens. Its token call
 * goes through fastify's inject() into this same server, whatever ENDPOINT resolves to from inside.
 */
export const ACCOUNT_CLIENT_ID = ACCOUNT_APPLICATION_ID;
export const ACCOUNT_CLIENT_NAME = 'Your Sesame account';
export const accountRedirectUri = (endpoint: string) => `${endpoint}/account/callback`;
export const accountPostLogoutRedirectUri = (endpoint: string) => `${endpoint}/account/signed-out`;

export interface PendingAccountSignIn {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

/** The token endpoint or the ID token refused the sign-in. */
export class AccountSignInError extends Error {}

const random = () => randomBytes(32).toString('base64url');

export function accountOidc(app: FastifyInstance, deps: { config: Readonly<Config>; db: Database; jwks: () => Promise<string> }) {
  const { config, db } = deps;
  const redirectUri = accountRedirectUri(config.endpoint);

  return {
    start(returnTo: string): { pending: PendingAccountSignIn; url: string } {
      const pending: PendingAccountSignIn = { state: random(), nonce: random(), verifier: random(), returnTo };
      const url = new URL(`${config.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: 'openid email',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      return { pending, url: url.href };
    },

    /** Exchanges the code; who signed in, from the verified ID token. */
    async finish(code: string, pending: PendingAccountSignIn, from: { ip: string; userAgent?: string }): Promise<{ userId: string }> {
      const client = await findApplication(db, ACCOUNT_CLIENT_ID);
      if (!client) throw new AccountSignInError('the account page is not registered; restart Sesame');
      const basic = Buffer.from(`${encodeURIComponent(ACCOUNT_CLIENT_ID)}:${encodeURIComponent(client.secret)}`).toString('base64');
      const response = await app.inject({
        method: 'POST',
        url: '/oidc/token',
        remoteAddress: from.ip,
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...(from.userAgent && { 'user-agent': from.userAgent }),
        },
        payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pending.verifier }).toString(),
      });
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(response.body) as Record<string, unknown>;
      } catch {
        // answered below
      }
      if (response.statusCode !== 200 || typeof body.id_token !== 'string') {
        const description = typeof body.error_description === 'string' ? body.error_description : String(body.error ?? response.statusCode);
        throw new AccountSignInError(description);
      }
      const keys = createLocalJWKSet(JSON.parse(await deps.jwks()) as Parameters<typeof createLocalJWKSet>[0]);
      const { payload } = await jwtVerify(body.id_token, keys, { issuer: config.issuer, audience: ACCOUNT_CLIENT_ID }).catch(() => {
        throw new AccountSignInError('the ID token could not be verified');
      });
      if (payload.nonce !== pending.nonce || typeof payload.sub !== 'string') throw new AccountSignInError('the ID token does not belong to this sign-in');
      return { userId: payload.sub };
    },

    /** RP-initiated logout: ends the Sesame session too, back to the registered post-logout URI. */
    endSessionUrl(): string {
      const url = new URL(`${config.issuer}/session/end`);
      url.search = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, post_logout_redirect_uri: accountPostLogoutRedirectUri(config.endpoint) }).toString();
      return url.href;
    },
  };
}

export type AccountOidc = ReturnType<typeof accountOidc>;

/**
 * Registers the account page as an app (the first start), or puts its URIs back as ENDPOINT says
 * now. Idempotent; src/server.ts runs it under a lock, as ensureConsoleClient.
 */
export function ensureAccountClient(db: Database, endpoint: string, now = Date.now()): Promise<Application> {
  return ensureFirstPartyClient(
    db,
    { id: ACCOUNT_CLIENT_ID, name: ACCOUNT_CLIENT_NAME, redirectUris: [accountRedirectUri(endpoint)], postLogoutRedirectUris: [accountPostLogoutRedirectUri(endpoint)] },
    now,
  );
}
