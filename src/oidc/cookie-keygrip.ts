import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What koa signs oidc-provider's cookies with (the `.sig` cookies): keygrip's interface and exactly
 * its signatures (HMAC-SHA1 of "name=value", base64url without padding, signed with the first key and
 * accepted under any), so cookies signed before a restart or an upgrade still verify.
 *
 * Given the key list as an array, koa builds a keygrip per request, and keygrip compares each
 * candidate signature through tsscmp: 32 fresh random bytes from the kernel and two more HMACs per
 * comparison, for every signed cookie read. The signatures compared here are public and of fixed
 * length, so a constant-time comparison of the two buffers is all that is needed, and the keys are
 * prepared once per key list.
 */
export interface CookieKeygrip {
  sign(data: string): string;
  verify(data: string, digest: string): boolean;
  index(data: string, digest: string): number;
}

export function cookieKeygrip(keys: readonly string[]): CookieKeygrip {
  if (keys.length === 0) throw new Error('cookie signing needs at least one key');
  const secrets = keys.map((key) => Buffer.from(key));
  const signWith = (data: string, secret: Buffer) => createHmac('sha1', secret).update(data).digest('base64url');
  const index = (data: string, digest: string) => {
    if (typeof digest !== 'string') return -1;
    const given = Buffer.from(digest);
    for (let i = 0; i < secrets.length; i += 1) {
      const expected = Buffer.from(signWith(data, secrets[i]!));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
    }
    return -1;
  };
  return {
    sign: (data) => signWith(data, secrets[0]!),
    verify: (data, digest) => index(data, digest) > -1,
    index,
  };
}
