import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { TOKEN_ENDPOINT_AUTH_METHODS, type TokenEndpointAuthMethod } from '../db/applications.ts';

const HOW: Record<TokenEndpointAuthMethod, string> = {
  client_secret_basic: 'the App Secret in an HTTP Basic Authorization header',
  client_secret_post: 'the App Secret as client_secret in the form body',
};

const isSecretMethod = (method: string | undefined): method is TokenEndpointAuthMethod =>
  (TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(method ?? '');

/**
 * Which secret method the request used, decided exactly as oidc-provider's client_auth.js does:
 * a non-empty `client_secret` parameter is client_secret_post, otherwise the secret came from the
 * Authorization: Basic header (both at once is refused by oidc-provider before we are asked).
 */
function secretMethodUsed(ctx: KoaContextWithOIDC): TokenEndpointAuthMethod {
  return ctx.oidc.params?.client_secret ? 'client_secret_post' : 'client_secret_basic';
}

/**
 * Makes every client authenticate only with its registered token_endpoint_auth_method.
 *
 * oidc-provider 9 treats client_secret_basic and client_secret_post as interchangeable: after
 * reading a secret from either place it accepts a client registered for either method
 * (lib/shared/client_auth.js: `methods = ['client_secret_basic', 'client_secret_post']`). The one
 * call it makes for exactly those two methods, and only once it knows the client, is
 * `client.compareClientSecret(secret)`, on every endpoint that authenticates clients (token,
 * introspection, revocation, PAR...). So that method is wrapped on this provider's own Client
 * class (each Provider instance has its own, so other providers in the process are untouched),
 * and the wrapper reads the request from `Provider.ctx` (oidc-provider's AsyncLocalStorage) to see
 * where the secret came from. A mismatch is refused before the secret is compared, with
 * 401 invalid_client and a description naming the registered method.
 *
 * Why not a koa middleware (`provider.use`): it runs before oidc-provider parses the body and
 * finds the client, so it would have to re-implement both. Without a request context the wrapper
 * fails closed (a 500 that shows in the logs) rather than letting either method through.
 */
export function enforceRegisteredClientAuthMethod(provider: Provider): void {
  const prototype = provider.Client.prototype;
  const compare = prototype.compareClientSecret;
  if (typeof compare !== 'function') {
    throw new Error('oidc-provider no longer has Client#compareClientSecret; client auth methods cannot be enforced');
  }
  prototype.compareClientSecret = async function compareClientSecret(this: InstanceType<Provider['Client']>, actual: string) {
    const registered = this.clientAuthMethod;
    if (isSecretMethod(registered)) {
      const ctx = Provider.ctx;
      if (!ctx) throw new Error('no request context while authenticating a client; refusing rather than skipping the method check');
      const used = secretMethodUsed(ctx);
      if (used !== registered) {
        const error = new errors.InvalidClientAuth(`client ${this.clientId} used ${used}, registered for ${registered}`);
        error.error_description = `client authentication failed: this client is registered for ${registered} (${HOW[registered]}), not ${used}`;
        throw error;
      }
    }
    return compare.call(this, actual);
  };
}
