import { createHash } from 'node:crypto';
import { randomString } from '../lib/random.ts';

/**
 * Backup codes: ten single-use codes, shown once. Each is 10 characters from a 31-character alphabet
 * without look-alikes (no 0/o, 1/l/i): about 49.5 random bits, written "xxxxx-xxxxx".
 *
 * Stored as SHA-256 of the account ID and the code, not argon2: a slow hash protects guessable
 * secrets (passwords); 2^49 random values are out of reach of online guessing (the lockout allows
 * some dozens a day) and make an offline search of a leaked table cost ~10^15 hashes per code, while
 * the same leak would already hold the account's TOTP secret. Not an HMAC with a server key either:
 * those keys rotate (`sesame keys rotate`) and codes must outlive rotations. The account ID in the
 * hash makes equal codes of two accounts hash differently.
 */
export const BACKUP_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LENGTH = 10;

export function newBackupCodes(): string[] {
  return Array.from({ length: BACKUP_CODE_COUNT }, () => {
    const code = randomString(LENGTH, ALPHABET);
    return `${code.slice(0, 5)}-${code.slice(5)}`;
  });
}

/** What a person typed, as stored: lower case, without spaces and dashes; undefined if it cannot be a code. */
export function normalizeBackupCode(typed: string): string | undefined {
  const code = typed.toLowerCase().replace(/[\s-]+/g, '');
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c)) ? code : undefined;
}

export function hashBackupCode(userId: string, normalized: string): string {
  return createHash('sha256').update(`${userId}:${normalized}`).digest('hex');
}
