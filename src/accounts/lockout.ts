import type { Database } from '../db/database.ts';
import { clearFailures, countFailures, deleteLockout, findLockout, insertFailure, saveLockout } from '../db/lockout.ts';
import { randomId } from '../lib/random.ts';

export interface LockoutRules {
  /** Failures of one address (wrong passwords and wrong codes together) within the window that lock it. */
  threshold: number;
  windowMs: number;
  /** First lock length; each later lock doubles until a successful sign-in resets it. */
  baseLockMs: number;
  maxLockMs: number;
  perIp: { limit: number; windowMs: number };
}

const MINUTE = 60_000;

export const DEFAULT_LOCKOUT_RULES: LockoutRules = {
  threshold: 10,
  windowMs: 10 * MINUTE,
  baseLockMs: 10 * MINUTE,
  maxLockMs: 24 * 60 * MINUTE,
  perIp: { limit: 100, windowMs: 10 * MINUTE },
};

export type LockState = { locked: false } | { locked: true; retryAfterSeconds: number };

/**
 * Brute-force brake shared by the password and code forms. It keys on the typed address whether or
 * not an account exists, so its answers reveal nothing about which addresses are registered.
 */
export function createLockout(db: Database, now: () => number, rules: LockoutRules = DEFAULT_LOCKOUT_RULES) {
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

  return {
    async check(email: string, ip: string): Promise<LockState> {
      const at = now();
      const lock = await findLockout(db, email);
      if (lock && lock.locked_until > at) return { locked: true, retryAfterSeconds: seconds(lock.locked_until - at) };
      const byIp = await countFailures(db, 'ip', ip, at - rules.perIp.windowMs);
      if (byIp.count >= rules.perIp.limit) {
        return { locked: true, retryAfterSeconds: seconds((byIp.oldest ?? at) + rules.perIp.windowMs - at) };
      }
      return { locked: false };
    },

    /** Records a failure; returns the lock it caused, if any. */
    async fail(email: string, ip: string): Promise<LockState> {
      const at = now();
      return db.transaction(async (tx) => {
        await insertFailure(tx, { id: randomId(), email, ip, failedAt: at });
        const lock = await findLockout(tx, email);
        const since = Math.max(at - rules.windowMs, lock?.locked_until ?? 0);
        const recent = await countFailures(tx, 'email', email, since);
        if (recent.count < rules.threshold) return { locked: false } as const;
        const level = (lock?.level ?? 0) + 1;
        const length = Math.min(rules.baseLockMs * 2 ** (level - 1), rules.maxLockMs);
        await saveLockout(tx, email, level, at + length, at);
        return { locked: true, retryAfterSeconds: seconds(length) } as const;
      });
    },

    async succeed(email: string): Promise<void> {
      await db.transaction(async (tx) => {
        await clearFailures(tx, email);
        await deleteLockout(tx, email);
      });
    },
  };
}

export type Lockout = ReturnType<typeof createLockout>;

export function lockedMessage(retryAfterSeconds: number): string {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return `Too many failed attempts. For your security, signing in with this address is paused: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}
