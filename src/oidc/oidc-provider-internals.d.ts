/** The one oidc-provider internal Sesame calls (src/oidc/provider.ts useKeys): it has no published types. */
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  import type Provider from 'oidc-provider';

  export default function initializeKeystore(this: Provider, jwks: { keys: object[] }): void;
}
