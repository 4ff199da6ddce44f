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
