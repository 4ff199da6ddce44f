import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import { findApplication } from '../db/applications.ts';
import { CONSOLE_CLIENT_ID, consolePostLogoutRedirectUri, consoleRedirectUri } from '../management/admins.ts';
import { MANAGEMENT_SCOPE, managementIndicator } from '../management/management-resource.ts';
import { NOT_AN_ADMINISTRATOR } from '../oidc/provider.ts';

/**
 * The console as an OIDC client of its own Sesame: a confidential client (client_secret_basic) with
 * PKCE, signing in through Sesame's own pages. Its token calls do not go out over the network: they
 * are made with fastify's inject() into this same server, so they work whatever ENDPOINT resolves to
 * from inside (a TLS proxy, a load balancer the server cannot reach itself through).
 */

export interface TokenSet {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken?: string;
  idToken?: string;
}

/** The token endpoint refused; `notAdministrator` when the account lacks the admin role. */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly notAdministrator: boolean,
  ) {
    super(message);
  }
}

export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

const random = () => randomBytes(32).toString('base64url');

export function consoleOidc(app: FastifyInstance, deps: { config: Readonly<Config>; db: Database; jwks: () => Promise<string>; now: () => number }) {
  const { config, db } = deps;
  const redirectUri = consoleRedirectUri(config.endpoint);
  const resource = managementIndicator(config.endpoint);

  async function tokenRequest(params: Record<string, string>, from: { ip: string; userAgent?: string }): Promise<Record<string, unknown>> {
    const client = await findApplication(db, CONSOLE_CLIENT_ID);
    if (!client) throw new TokenError('the console app is not registered; restart Sesame or sign in again', false);
    const basic = Buffer.from(`${encodeURIComponent(CONSOLE_CLIENT_ID)}:${encodeURIComponent(client.secret)}`).toString('base64');
    const response = await app.inject({
      method: 'POST',
      url: '/oidc/token',
      remoteAddress: from.ip,
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        ...(from.userAgent && { 'user-agent': from.userAgent }),
      },
      payload: new URLSearchParams(params).toString(),
    });
    const body = (() => {
      try {
        return JSON.parse(response.body) as Record<string, unknown>;
      } catch {
        return {};
      }
    })();
    if (response.statusCode !== 200) {
      const description = typeof body.error_description === 'string' ? body.error_description : String(body.error ?? response.statusCode);
      throw new TokenError(description, description === NOT_AN_ADMINISTRATOR);
    }
    return body;
  }

  const toTokenSet = (body: Record<string, unknown>): TokenSet => ({
    accessToken: String(body.access_token),
    accessTokenExpiresAt: deps.now() + Number(body.expires_in ?? 0) * 1000,
    ...(typeof body.refresh_token === 'string' && { refreshToken: body.refresh_token }),
    ...(typeof body.id_token === 'string' && { idToken: body.id_token }),
  });

  return {
    /** Starts a sign-in: the pending state to keep, and where to send the browser. */
    async start(returnTo: string): Promise<{ pending: PendingSignIn; url: string }> {
      const pending: PendingSignIn = { state: random(), nonce: random(), verifier: random(), returnTo };
      const url = new URL(`${config.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: CONSOLE_CLIENT_ID,
        response_type: 'code',
        redirect_uri: redirectUri,
        // offline_access needs prompt=consent (oidc-provider); Sesame grants it without a page for first-party apps.
        scope: `openid email offline_access ${MANAGEMENT_SCOPE}`,
        prompt: 'consent',
        resource,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      return { pending, url: url.href };
    },

    /**
     * Exchanges the code (who signed in: the verified ID token), then asks for a management API token
     * with the refresh token: the one step that tells an administrator from everyone else.
     */
    async finish(code: string, pending: PendingSignIn, from: { ip: string; userAgent?: string }) {
      const first = toTokenSet(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pending.verifier }, from));
      if (!first.idToken || !first.refreshToken) throw new TokenError('Sesame answered without an ID token or refresh token', false);
      const { payload } = await jwtVerify(first.idToken, createLocalJWKSet(JSON.parse(await deps.jwks()) as Parameters<typeof createLocalJWKSet>[0]), {
        issuer: config.issuer,
        audience: CONSOLE_CLIENT_ID,
      });
      if (payload.nonce !== pending.nonce || typeof payload.sub !== 'string') throw new TokenError('the ID token does not belong to this sign-in', false);
      const who = { userId: payload.sub, email: typeof payload.email === 'string' ? payload.email : payload.sub };
      try {
        const api = await this.refresh(first.refreshToken, from);
        return { ...who, tokens: { ...api, refreshToken: api.refreshToken ?? first.refreshToken } };
      } catch (error) {
        // Not an administrator: the refresh token is of no use to anyone; let it go at once.
        await this.revoke(first.refreshToken, from).catch(() => undefined);
        if (error instanceof TokenError && error.notAdministrator) return { ...who, notAdministrator: true as const };
        throw error;
      }
    },

    /** A fresh management API token (the refresh token is not rotated for the console). */
    async refresh(refreshToken: string, from: { ip: string; userAgent?: string }): Promise<TokenSet> {
      return toTokenSet(await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, resource }, from));
    },

    async revoke(refreshToken: string, from: { ip: string; userAgent?: string }): Promise<void> {
      const client = await findApplication(db, CONSOLE_CLIENT_ID);
      if (!client) return;
      const basic = Buffer.from(`${encodeURIComponent(CONSOLE_CLIENT_ID)}:${encodeURIComponent(client.secret)}`).toString('base64');
      await app.inject({
        method: 'POST',
        url: '/oidc/token/revocation',
        remoteAddress: from.ip,
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }).toString(),
      });
    },

    /** RP-initiated logout: ends the Sesame session too, back to the registered post-logout URI. */
    endSessionUrl(): string {
      const url = new URL(`${config.issuer}/session/end`);
      url.search = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, post_logout_redirect_uri: consolePostLogoutRedirectUri(config.endpoint) }).toString();
      return url.href;
    },
  };
}

export type ConsoleOidc = ReturnType<typeof consoleOidc>;
