import type { Database } from '../db/database.ts';
import { clearFailures, countFailures, deleteLock, findLock, insertFailure, readLockState, saveLock } from '../db/lockout.ts';
import { serializeOn } from '../db/serialize.ts';
import { randomId } from '../lib/random.ts';

/** A threshold of failures within a window, and the lock it causes (doubling on each repeat). */
export interface LockRule {
  threshold: number;
  windowMs: number;
  baseLockMs: number;
  maxLockMs: number;
}

export interface LockoutRules {
  /**
   * One address from one IP. Low, so whoever is guessing is stopped quickly, and only they are: a
   * person signing in from elsewhere is not affected. Reset by a successful sign-in from that IP.
   */
  pair: LockRule;
  /**
   * One address from everywhere: the ceiling on guesses per account however many IPs guess. It
   * applies to browsers where the address never signed in; the owner's own browsers are exempt.
   * Not reset by a lock ending (only by failures leaving the window), so each failure after a lock
   * ends locks again, for twice as long.
   */
  address: LockRule;
  /** One IP across every address: stops one source from spraying many addresses. */
  perIp: { limit: number; windowMs: number };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_LOCKOUT_RULES: LockoutRules = {
  pair: { threshold: 10, windowMs: 15 * MINUTE, baseLockMs: 15 * MINUTE, maxLockMs: 24 * HOUR },
  address: { threshold: 30, windowMs: 24 * HOUR, baseLockMs: HOUR, maxLockMs: 24 * HOUR },
  perIp: { limit: 100, windowMs: 10 * MINUTE },
};

export type LockScope = 'pair' | 'address' | 'ip';
/**
 * A check's verdict. `clean` (when not locked): the address+IP pair had neither a lock nor failures
 * on record, so a sign-in that follows has nothing to clear (see succeed).
 */
export type LockState = { locked: false; clean?: boolean } | { locked: true; retryAfterSeconds: number; scope: LockScope };

/** Who is trying: the typed address, the client's IP and whether this browser signed in with it before. */
export interface Attempt {
  email: string;
  ip: string;
  knownDevice?: boolean;
}

const pairSubject = (email: string, ip: string) => `pair ${email} ${ip}`;
const addressSubject = (email: string) => `address ${email}`;

/**
 * Brute-force brake shared by the password and code forms (and any later factor). It keys on the
 * typed address whether or not an account exists, so its answers reveal nothing about which
 * addresses are registered. See README "Guessing and lockout" for the model.
 */
export function createLockout(db: Database, now: () => number, rules: LockoutRules = DEFAULT_LOCKOUT_RULES) {
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  const locked = (until: number, at: number, scope: LockScope): LockState => ({ locked: true, retryAfterSeconds: seconds(until - at), scope });

  return {
    async check({ email, ip, knownDevice = false }: Attempt): Promise<LockState> {
      const at = now();
      // One statement: this runs before every code and password guess.
      const state = await readLockState(db, { pair: pairSubject(email, ip), address: addressSubject(email), ip, since: at - rules.perIp.windowMs, email });
      if (state.pairUntil !== null && state.pairUntil > at) return locked(state.pairUntil, at, 'pair');
      if (!knownDevice && state.addressUntil !== null && state.addressUntil > at) return locked(state.addressUntil, at, 'address');
      if (state.ipFailures >= rules.perIp.limit) return locked((state.ipOldest ?? at) + rules.perIp.windowMs, at, 'ip');
      return { locked: false, clean: state.pairUntil === null && !state.pairFailures };
    },

    /** Records a failure; returns the lock it caused for this caller, if any. */
    async fail({ email, ip, knownDevice = false }: Attempt): Promise<LockState> {
      const at = now();
      return db.transaction().execute(async (tx) => {
        // Failures for one address counted and locked in one step, across instances.
        await serializeOn(tx, [`failures:${email}`]);
        await insertFailure(tx, { id: randomId(), email, ip, failedAt: at });

        // Lock `subject` when its failures reach the rule's threshold; returns the lock's end.
        const apply = async (subject: string, rule: LockRule, countSince: (lockedUntil: number) => number, count: (since: number) => Promise<number>) => {
          const lock = await findLock(tx, subject);
          if (lock && lock.locked_until > at) return lock.locked_until;
          if ((await count(countSince(lock?.locked_until ?? 0))) < rule.threshold) return undefined;
          const level = (lock?.level ?? 0) + 1;
          const until = at + Math.min(rule.baseLockMs * 2 ** (level - 1), rule.maxLockMs);
          await saveLock(tx, subject, email, level, until, at);
          return until;
        };

        // A pair starts afresh when its lock ends; the address does not (see LockoutRules.address).
        const pairUntil = await apply(
          pairSubject(email, ip),
          rules.pair,
          (lockedUntil) => Math.max(at - rules.pair.windowMs, lockedUntil),
          async (since) => (await countFailures(tx, { email, ip }, since)).count,
        );
        const addressUntil = await apply(
          addressSubject(email),
          rules.address,
          () => at - rules.address.windowMs,
          async (since) => (await countFailures(tx, { email }, since)).count,
        );
        if (pairUntil !== undefined) return locked(pairUntil, at, 'pair');
        if (addressUntil !== undefined && !knownDevice) return locked(addressUntil, at, 'address');
        return { locked: false } as const;
      });
    },

    /**
     * A successful sign-in from this IP: its failures and pair lock are forgotten. The address-wide
     * count keeps other sources' failures, so someone guessing cannot be reset by the owner signing in.
     */
    async succeed({ email, ip }: Attempt, checked?: LockState): Promise<void> {
      // The check just before this sign-in found nothing to clear (the usual case): two statements
      // saved. A failure recorded in between (another tab) stays counted, which only errs on the safe side.
      if (checked && !checked.locked && checked.clean) return;
      // Two idempotent deletes, no transaction needed: if the second failed, the pair would only stay
      // locked until its lock ends, never unlocked early.
      await deleteLock(db, pairSubject(email, ip));
      await clearFailures(db, email, ip);
    },
  };
}

export type Lockout = ReturnType<typeof createLockout>;
