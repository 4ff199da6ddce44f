import { randomInt } from 'node:crypto';

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const LOWER_ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Unbiased random string over `alphabet` (crypto.randomInt rejects modulo bias). */
export function randomString(length: number, alphabet = ALPHANUMERIC): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Ids shaped like Logto's: lower-case alphanumeric, URL- and log-friendly. */
export function randomId(length = 21): string {
  return randomString(length, LOWER_ALPHANUMERIC);
}
