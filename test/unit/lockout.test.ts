import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createLockout, DEFAULT_LOCKOUT_RULES, type Attempt, type Lockout } from '../../src/sign-in/lockout.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('lockout: per address+IP pair, per address, per IP', () => {
  let dir: string;
  let db: Database;
  let now = 1_800_000_000_000;
  let lockout: Lockout;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-lockout-'));
    db = openSqlite(join(dir, 'l.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    lockout = createLockout(db, () => now, DEFAULT_LOCKOUT_RULES);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const attacker = (email: string, ip = '203.0.113.7'): Attempt => ({ email, ip });
  const failTimes = async (who: Attempt, n: number) => {
    let last = await lockout.check(who);
    for (let i = 0; i < n; i += 1) last = await lockout.fail(who);
    return last;
  };

  it('pauses one IP for one address after 10 failures in 15 minutes, and only that IP', async () => {
    const who = attacker('a@example.com');
    expect((await failTimes(who, 9)).locked).toBe(false);
    expect(await lockout.fail(who)).toEqual({ locked: true, retryAfterSeconds: 900, scope: 'pair' });
    expect((await lockout.check(who)).locked).toBe(true);
    // The owner, elsewhere, is not affected.
    expect(await lockout.check({ email: 'a@example.com', ip: '198.51.100.1' })).toEqual({ locked: false, clean: true });
    now += 15 * MINUTE + 1000;
    expect((await lockout.check(who)).locked).toBe(false);
  });

  it('says when a pair has nothing on record, so a sign-in after that check has nothing to clear', async () => {
    const who = attacker('clean@example.com');
    const first = await lockout.check(who);
    expect(first).toEqual({ locked: false, clean: true });
    await lockout.fail(who);
    // A failure on record (even one outside every window) makes the pair not clean...
    const after = await lockout.check(who);
    expect(after).toEqual({ locked: false, clean: false });
    // ...and a sign-in handed the clean verdict from before it skips the clearing: the failure stays.
    await lockout.succeed(who, first);
    expect(await lockout.check(who)).toEqual({ locked: false, clean: false });
    // Handed the current verdict, it clears the pair.
    await lockout.succeed(who, after);
    expect(await lockout.check(who)).toEqual({ locked: false, clean: true });
    // A lock (even an ended one) is on record too.
    await failTimes(who, 10);
    now += 15 * MINUTE + 1000;
    expect(await lockout.check(who)).toEqual({ locked: false, clean: false });
  });

  it('does not count pair failures older than the window', async () => {
    const who = attacker('b@example.com');
    await failTimes(who, 9);
    now += 16 * MINUTE;
    expect((await lockout.fail(who)).locked).toBe(false);
  });

  it('doubles the next pair lock, and a success from that IP resets it', async () => {
    const who = attacker('c@example.com');
    await failTimes(who, 10);
    now += 15 * MINUTE + 1000;
    expect(await failTimes(who, 10)).toEqual({ locked: true, retryAfterSeconds: 1800, scope: 'pair' });
    now += 30 * MINUTE + 1000;
    await lockout.succeed(who);
    expect(await failTimes(who, 10)).toEqual({ locked: true, retryAfterSeconds: 900, scope: 'pair' });
  });

  it('pauses the address for unknown browsers after 30 failures from many IPs, but not for a browser it signed in on', async () => {
    const email = 'd@example.com';
    for (let i = 0; i < 29; i += 1) expect((await lockout.fail(attacker(email, `203.0.113.${i}`))).locked).toBe(false);
    expect(await lockout.fail(attacker(email, '203.0.113.200'))).toEqual({ locked: true, retryAfterSeconds: 3600, scope: 'address' });
    expect(await lockout.check({ email, ip: '198.51.100.9' })).toMatchObject({ locked: true, scope: 'address' });
    expect(await lockout.check({ email, ip: '198.51.100.9', knownDevice: true })).toMatchObject({ locked: false });
    // Other addresses are untouched.
    expect(await lockout.check({ email: 'other@example.com', ip: '198.51.100.9' })).toEqual({ locked: false, clean: true });
  });

  it('keeps counting the address across a lock: the next failure after it ends locks again for twice as long', async () => {
    const email = 'e@example.com';
    for (let i = 0; i < 30; i += 1) await lockout.fail(attacker(email, `203.0.113.${i}`));
    now += HOUR + 1000;
    expect(await lockout.check(attacker(email, '203.0.113.250'))).toMatchObject({ locked: false });
    expect(await lockout.fail(attacker(email, '203.0.113.250'))).toEqual({ locked: true, retryAfterSeconds: 7200, scope: 'address' });
  });

  it('the owner signing in does not reset what others did to the address', async () => {
    const email = 'f@example.com';
    for (let i = 0; i < 29; i += 1) await lockout.fail(attacker(email, `203.0.113.${i}`));
    await lockout.succeed({ email, ip: '198.51.100.1', knownDevice: true });
    expect(await lockout.fail(attacker(email, '203.0.113.99'))).toMatchObject({ locked: true, scope: 'address' });
  });

  it('holds guessing far below 100 failures per address in a day, however many IPs guess', async () => {
    const email = 'g@example.com';
    let accepted = 0;
    let ip = 0;
    // An attacker with unlimited fresh IPs guesses whenever the lockout lets a guess through.
    for (const end = now + 24 * HOUR; now < end; now += MINUTE) {
      for (let burst = 0; burst < 20; burst += 1) {
        const who = attacker(email, `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`);
        ip += 1;
        if ((await lockout.check(who)).locked) break;
        accepted += 1;
        await lockout.fail(who);
      }
    }
    expect(accepted).toBeLessThanOrEqual(40);
  });

  it('limits one IP across many addresses', async () => {
    for (let i = 0; i < 100; i += 1) await lockout.fail({ email: `user${i}@example.com`, ip: '10.9.9.9' });
    expect(await lockout.check({ email: 'fresh@example.com', ip: '10.9.9.9' })).toMatchObject({ locked: true, scope: 'ip' });
    expect((await lockout.check({ email: 'fresh@example.com', ip: '10.9.9.8' })).locked).toBe(false);
  });
});
