import { Signer } from '@fastify/cookie';

/**
 * @fastify/cookie's signer over the cookie keys in use now (they change with `sesame keys rotate`
 * while running): signs with the first, accepts any. The plugin takes a `{ sign, unsign }` object in
 * place of a secret for exactly this; a Signer is built again only when the key list changes.
 */
export function liveCookieSigner(keys: () => readonly string[]): Pick<Signer, 'sign' | 'unsign'> {
  let signedWith: readonly string[] | undefined;
  let signer: Signer | undefined;
  const current = () => {
    const now = keys();
    if (now !== signedWith || !signer) {
      signer = new Signer([...now]);
      signedWith = now;
    }
    return signer;
  };
  return {
    sign: (value) => current().sign(value),
    unsign: (value) => current().unsign(value),
  };
}
