import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The sign-in link's secret: a random token, the code's second form (see src/sign-in/codes.ts).
 *
 * The link carries the interaction uid and this token, never the 6-digit code. The database keeps
 * only an HMAC of the token (keyed by the same server code key as the code's HMAC) and the code
 * sealed under a key derived from the token: with the token, the page for a link opened in another
 * browser can show the code to type where the sign-in started; without it (a database copy) the
 * sealed code is noise.
 */

/** 32 random bytes, base64url: 43 characters, far beyond guessing. */
export const LINK_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const newLinkToken = () => randomBytes(32).toString('base64url');

export interface LinkBinding {
  interactionUid: string;
  purpose: string;
  email: string;
}

const context = (binding: LinkBinding) => `${binding.interactionUid}\n${binding.purpose}\n${binding.email}`;

/** The stored form of a token. The `link` prefix keeps it from ever equalling a code's HMAC. */
export const linkMac = (key: Buffer, binding: LinkBinding, token: string) =>
  createHmac('sha256', key).update(`link\n${context(binding)}\n${token}`).digest();

/** Whether `token` is the one whose HMAC is stored, under any key in use (always every key, for even timing). */
export function linkMatches(keys: readonly Buffer[], binding: LinkBinding, storedHmac: string | null, token: string): boolean {
  if (storedHmac === null || !LINK_TOKEN.test(token)) return false;
  const stored = Buffer.from(storedHmac, 'base64url');
  let ok = false;
  for (const key of keys) {
    const candidate = linkMac(key, binding, token);
    ok = (candidate.length === stored.length && timingSafeEqual(candidate, stored)) || ok;
  }
  return ok;
}

const sealKey = (token: string, binding: LinkBinding) =>
  Buffer.from(hkdfSync('sha256', Buffer.from(token, 'base64url'), Buffer.alloc(0), `sesame sign-in link code\n${context(binding)}`, 32));

/** The code sealed (AES-256-GCM) under the token: iv, ciphertext and tag, base64url. */
export function sealCode(token: string, binding: LinkBinding, code: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(token, binding), iv);
  const sealed = Buffer.concat([cipher.update(code, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
}

/** The code back, or undefined when the token or the stored value does not fit. */
export function openCode(token: string, binding: LinkBinding, stored: string | null): string | undefined {
  if (stored === null) return undefined;
  const bytes = Buffer.from(stored, 'base64url');
  if (bytes.length < 12 + 16 + 1) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(token, binding), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
