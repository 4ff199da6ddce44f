import { createRequire } from 'node:module';
import argon2 from 'argon2';
import { PASSWORD_MAX_LENGTH, type Experience } from './experience.ts';
import { message } from './messages.ts';
import type { Phrase } from '../i18n/index.ts';

/** OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Always does the full work, also for a missing hash, so timing does not tell accounts apart. */
  verify(hash: string | null, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

export function createPasswordHasher(options: typeof ARGON2_OPTIONS = ARGON2_OPTIONS): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= argon2.hash('not the password of anyone', options));
  return {
    hash: (password) => argon2.hash(password, options),
    async verify(hash, password) {
      const target = hash ?? (await dummyHash());
      try {
        const ok = await argon2.verify(target, password);
        return ok && hash !== null;
      } catch {
        return false;
      }
    },
    needsRehash: (hash) => argon2.needsRehash(hash, options),
  };
}

const load = createRequire(import.meta.url);
let common: Set<string> | undefined;
/**
 * The 10,000 most common passwords (zxcvbn's list). The package is loaded on first use, not at start:
 * its dictionaries take some 10 MB of memory, which a server whose people never choose a password
 * has no use for (synchronously, with require, so the check stays synchronous).
 */
function commonPasswords(): Set<string> {
  if (!common) {
    const { dictionary } = load('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    common = new Set(dictionary['passwords-common'].slice(0, 10_000).map(String));
  }
  return common;
}

/** The first rule a new password breaks, as a sentence for the person typing it. */
export function passwordProblem(password: string, email: string, policy: Experience['passwordPolicy']): Phrase | undefined {
  if (password.length < policy.minLength) return message('password.tooShort', { count: policy.minLength });
  if (password.length > PASSWORD_MAX_LENGTH) return message('password.tooLong', { count: PASSWORD_MAX_LENGTH });
  const lowered = password.toLowerCase();
  if (policy.rejectEmail && (lowered === email || lowered === email.split('@')[0])) {
    return message('password.isEmail');
  }
  if (policy.rejectCommon && commonPasswords().has(lowered)) {
    return message('password.common');
  }
  return undefined;
}
