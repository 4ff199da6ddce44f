import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';

/**
 * Browsers where an address has signed in before ("device cookies", OWASP's answer to lockout
 * denial of service). Someone guessing from elsewhere can pause an address for unknown browsers,
 * but not for the owner's own. The cookie is signed (unforgeable) and holds only keyed hashes of
 * the addresses, so reading it does not tell which addresses they are.
 */
export const KNOWN_DEVICE_COOKIE = '_sesame_known';
const MAX_ADDRESSES = 8;
const MAX_AGE_SECONDS = 400 * 24 * 60 * 60;

/** `keys`: the cookie keys in use now, the signing one first (they change with `sesame keys rotate`). */
export function createKnownDevices(keys: () => readonly string[], secure: boolean) {
  if (!keys()[0]) throw new Error('no cookie key for known devices');
  const tag = (key: string, email: string) => createHmac('sha256', key).update(`known-device\n${email}`).digest('base64url').slice(0, 22);

  function tags(request: FastifyRequest): string[] {
    const raw = request.cookies?.[KNOWN_DEVICE_COOKIE];
    if (!raw) return [];
    const unsigned = request.unsignCookie(raw);
    return unsigned.valid && unsigned.value ? unsigned.value.split('.').filter(Boolean) : [];
  }

  return {
    /** True when this browser completed a sign-in with `email` before (under any current cookie key). */
    isKnown(request: FastifyRequest, email: string): boolean {
      const held = new Set(tags(request));
      return keys().some((key) => held.has(tag(key, email)));
    },

    /** After a successful sign-in: remember the address on this browser (newest first, a few at most). */
    remember(request: FastifyRequest, reply: FastifyReply, email: string): void {
      const own = tag(keys()[0]!, email);
      const value = [own, ...tags(request).filter((held) => held !== own)].slice(0, MAX_ADDRESSES).join('.');
      reply.setCookie(KNOWN_DEVICE_COOKIE, value, {
        path: '/interaction',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        signed: true,
        maxAge: MAX_AGE_SECONDS,
      });
    },
  };
}

export type KnownDevices = ReturnType<typeof createKnownDevices>;
