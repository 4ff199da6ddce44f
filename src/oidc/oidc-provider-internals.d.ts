/** The oidc-provider internals Sesame uses: they have no published types. */

/** Re-keys a running provider (src/oidc/provider.ts useKeys). */
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  import type Provider from 'oidc-provider';

  export default function initializeKeystore(this: Provider, jwks: { keys: object[] }): void;
}

/** oidc-provider's request context, which Provider.ctx reads (src/oidc/request-writes.ts writeTogether). */
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';

  const requestContext: AsyncLocalStorage<object>;
  export default requestContext;
}
