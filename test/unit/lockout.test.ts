import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/db/sqlite.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createLockout, DEFAULT_LOCKOUT_RULES, type Lockout } from '../../src/accounts/lockout.ts';

const MINUTE = 60_000;

describe('lockout', () => {
  let dir: string;
  let db: SqliteDatabase;
  let now = 1_800_000_000_000;
  let lockout: Lockout;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-lockout-'));
    db = new SqliteDatabase(join(dir, 'l.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    lockout = createLockout(db, () => now, { ...DEFAULT_LOCKOUT_RULES, perIp: { limit: 25, windowMs: 10 * MINUTE } });
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const failTimes = async (email: string, n: number, ip = '10.0.0.1') => {
    let last = await lockout.check(email, ip);
    for (let i = 0; i < n; i += 1) last = await lockout.fail(email, ip);
    return last;
  };

  it('locks after 10 failures in 10 minutes, for 10 minutes', async () => {
    expect((await failTimes('a@example.com', 9)).locked).toBe(false);
    expect(await lockout.fail('a@example.com', '10.0.0.1')).toEqual({ locked: true, retryAfterSeconds: 600 });
    now += 9 * MINUTE;
    expect((await lockout.check('a@example.com', '10.0.0.2')).locked).toBe(true);
    now += MINUTE + 1000;
    expect((await lockout.check('a@example.com', '10.0.0.2')).locked).toBe(false);
  });

  it('does not count failures older than the window', async () => {
    await failTimes('b@example.com', 9);
    now += 11 * MINUTE;
    expect((await lockout.fail('b@example.com', '10.0.0.1')).locked).toBe(false);
  });

  it('doubles the next lock, and a success resets it', async () => {
    await failTimes('c@example.com', 10);
    now += 10 * MINUTE + 1000;
    expect(await failTimes('c@example.com', 10)).toEqual({ locked: true, retryAfterSeconds: 1200 });
    now += 20 * MINUTE + 1000;
    await lockout.succeed('c@example.com');
    expect(await failTimes('c@example.com', 10)).toEqual({ locked: true, retryAfterSeconds: 600 });
  });

  it('limits one IP across many addresses', async () => {
    for (let i = 0; i < 25; i += 1) await lockout.fail(`user${i}@example.com`, '10.9.9.9');
    expect((await lockout.check('fresh@example.com', '10.9.9.9')).locked).toBe(true);
    expect((await lockout.check('fresh@example.com', '10.9.9.8')).locked).toBe(false);
  });
});
