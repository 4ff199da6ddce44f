import * as client from 'openid-client';

export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Seconds per HTTP request to Sesame. */
  timeout?: number;
}

export type ConfigurationSource = () => Promise<client.Configuration>;

/**
 * Discovers Sesame on first use rather than at start: in `npm start` both apps boot in one
 * process and Sesame may not be listening yet. A failed discovery is forgotten so the next
 * request tries again instead of the demo staying broken until a restart.
 */
export function lazyDiscovery(options: OidcClientOptions): ConfigurationSource {
  let pending: Promise<client.Configuration> | undefined;
  return () => {
    pending ??= client
      .discovery(new URL(options.issuer), options.clientId, undefined, client.ClientSecretBasic(options.clientSecret), {
        execute: new URL(options.issuer).protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: options.timeout ?? 10,
      })
      .catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
    return pending;
  };
}

/** Discovery, token and userinfo calls that could not reach Sesame at all (as opposed to an OAuth error answer). */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== error && cause instanceof Error && isUnreachable(cause);
}

/** What the Bookstore keeps, server-side, about a signed-in visitor. */
export interface SignedInUser {
  claims: Record<string, unknown>;
  idToken?: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms; absent when Sesame did not say. */
  accessTokenExpiresAt?: number;
}

/** The stored tokens no longer work: the visitor has to sign in again. */
export class SignInAgain extends Error {}

/** New tokens for `user` from its refresh token; SignInAgain when Sesame no longer accepts it. */
export async function refreshed(config: client.Configuration, user: SignedInUser): Promise<SignedInUser> {
  if (!user.refreshToken) throw new SignInAgain('no refresh token');
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    tokens = await client.refreshTokenGrant(config, user.refreshToken);
  } catch (error) {
    if (isUnreachable(error)) throw error;
    throw new SignInAgain('refresh refused', { cause: error });
  }
  const claims = tokens.claims();
  return {
    claims: claims ? { ...claims } : user.claims,
    idToken: tokens.id_token ?? user.idToken,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token ?? user.refreshToken,
    accessTokenExpiresAt: tokens.expires_in !== undefined ? Date.now() + tokens.expires_in * 1000 : undefined,
  };
}

/** userinfo's answer to an access token it no longer accepts. */
export const isRejectedToken = (error: unknown) =>
  error instanceof client.WWWAuthenticateChallengeError && error.status === 401;
