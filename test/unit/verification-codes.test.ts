import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { CodeChangedMeanwhile, createCodeService, defaultCodePolicy, type CodeService, type LinkVerifyResult } from '../../src/sign-in/codes.ts';
import { codeRecord } from '../helpers/sesame.ts';
import { consumeCode, findCode, recordWrongGuess, saveCode, saveResentCode, type CodeRecord } from '../../src/db/verification.ts';

describe('the code service', () => {
  let dir: string;
  let db: Database;
  let codes: CodeService;
  let now = 1_800_000_000_000;
  const sent: string[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-codes-'));
    db = openSqlite(join(dir, 'codes.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    codes = createCodeService({ db, hmacKeys: () => [Buffer.alloc(32, 7)], policy: () => defaultCodePolicy(10), now: () => now, sleep: async () => {} });
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = (uid = 'uid1', email = 'a@example.com', ip = '127.0.0.1') =>
    codes.issue({ interactionUid: uid, purpose: 'email', email, ip, deliver: async (code) => void sent.push(code) });

  it('stores only an HMAC of a 6-digit code, never the code itself', async () => {
    expect((await issue()).status).toBe('sent');
    const code = sent.at(-1)!;
    expect(code).toMatch(/^\d{6}$/);
    const row = await db.selectFrom('verification_codes').selectAll().executeTakeFirst();
    expect(JSON.stringify(row)).not.toContain(code);
    expect(String(row!.code_hmac)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  /** A verdict, and for a right secret its use made at once (as a route's completing write would). */
  const usedAt = async (verdict: Promise<LinkVerifyResult>) => {
    const result = await verdict;
    if (result.status === 'ok') await result.use(db);
    return result;
  };

  it('works exactly once', async () => {
    await issue();
    const code = sent.at(-1)!;
    // Two checks at once both find the code right; of their uses exactly one goes through.
    const results = await Promise.all([codes.verify('uid1', 'email', code), codes.verify('uid1', 'email', code)]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    const uses = await Promise.allSettled(results.map((r) => (r.status === 'ok' ? r.use(db) : Promise.resolve())));
    expect(uses.filter((u) => u.status === 'fulfilled')).toHaveLength(1);
    expect(uses.find((u) => u.status === 'rejected')).toMatchObject({ reason: expect.any(CodeChangedMeanwhile) });
    // Checked again, as the route does after such a refusal: the code is gone.
    expect((await codes.verify('uid1', 'email', code)).status).toBe('missing');
  });

  it('is not used up by a right check whose use was never made', async () => {
    await issue();
    const code = sent.at(-1)!;
    expect((await codes.verify('uid1', 'email', code)).status).toBe('ok');
    // The sign-in it proved was not stored (say, the database failed): the same code still works.
    expect((await usedAt(codes.verify('uid1', 'email', code))).status).toBe('ok');
    expect((await codes.verify('uid1', 'email', code)).status).toBe('missing');
  });

  it('refuses its use once the code was resent after the check', async () => {
    await issue();
    const first = sent.at(-1)!;
    const checked = await codes.verify('uid1', 'email', first);
    now += 61_000;
    await issue();
    if (checked.status !== 'ok') throw new Error('the first check should pass');
    await expect(checked.use(db)).rejects.toBeInstanceOf(CodeChangedMeanwhile);
    expect((await codes.state('uid1', 'email'))!.consumed).toBe(false);
  });

  it('is bound to its interaction', async () => {
    await issue('uid1');
    const code = sent.at(-1)!;
    expect((await codes.verify('uid2', 'email', code)).status).toBe('missing');
    expect((await codes.verify('uid1', 'email', code)).status).toBe('ok');
  });

  it('keeps the failure count across a resend and refuses resends inside the cooldown', async () => {
    await issue();
    await codes.verify('uid1', 'email', '999999' === sent.at(-1) ? '000000' : '999999');
    expect(await issue()).toMatchObject({ status: 'cooldown' });
    now += 61_000;
    expect((await issue()).status).toBe('sent');
    expect((await codes.state('uid1', 'email'))!.attemptsLeft).toBe(4);
  });

  it('a resend carries over the failure count stored when it writes, not the one it read', async () => {
    const stored = async () => (await findCode(db, 'uid9', 'email'))?.failedAttempts;
    const code = (failedAttempts: number, consumedAt: number | null = null): CodeRecord => ({
      interactionUid: 'uid9',
      purpose: 'email',
      email: 'a@example.com',
      codeHmac: 'h',
      failedAttempts,
      expiresAt: now + 60_000,
      lastSentAt: now,
      consumedAt,
      createdAt: now,
      linkHmac: null,
      linkCode: null,
    });
    // No code yet: the new row's own count.
    await saveResentCode(db, code(0), 5);
    expect(await stored()).toBe(0);
    // Two guesses counted (say, on another instance) after the sender read the code: both stay.
    await saveCode(db, code(2));
    await saveResentCode(db, code(0), 5);
    expect(await stored()).toBe(2);
    // A dead code, or a used one, is replaced by a fresh count.
    await saveCode(db, code(5));
    await saveResentCode(db, code(0), 5);
    expect(await stored()).toBe(0);
    await saveCode(db, code(3, now));
    await saveResentCode(db, code(0), 5);
    expect(await stored()).toBe(0);
  });

  it('writes a guess only against the code as it was read, and no more than maxAttempts of them', async () => {
    const row = (codeHmac: string): CodeRecord => ({ ...codeRecord('uid8', 'a@example.com'), purpose: 'email', codeHmac });
    const seen = (codeHmac: string) => ({ interactionUid: 'uid8', purpose: 'email', codeHmac, maxAttempts: 3 });
    await saveCode(db, row('old'));
    // A resend replaced the code after the guess read it: neither outcome lands on the new code.
    await saveCode(db, row('new'));
    expect(await consumeCode(db, seen('old'), now)).toBe(false);
    expect(await recordWrongGuess(db, seen('old'))).toBeUndefined();
    // Each wrong guess gets a count of its own, up to the limit; a dead code cannot be used.
    expect(await recordWrongGuess(db, seen('new'))).toBe(1);
    expect(await recordWrongGuess(db, seen('new'))).toBe(2);
    expect(await recordWrongGuess(db, seen('new'))).toBe(3);
    expect(await recordWrongGuess(db, seen('new'))).toBeUndefined();
    expect(await consumeCode(db, seen('new'), now)).toBe(false);
    // A live code is used once.
    await saveCode(db, row('fresh'));
    expect(await consumeCode(db, seen('fresh'), now)).toBe(true);
    expect(await consumeCode(db, seen('fresh'), now)).toBe(false);
  });

  it('checks a guess again when the code changed between its read and its write', async () => {
    await issue();
    const first = sent.at(-1)!;
    let resent = false;
    // The gate runs between the check's read and its write: a resend lands exactly there.
    const result = await codes.verify('uid1', 'email', first, async () => {
      if (!resent) {
        resent = true;
        now += 61_000;
        expect((await issue()).status).toBe('sent');
      }
      return { locked: false };
    });
    const second = sent.at(-1)!;
    if (second === first) return void expect((await usedAt(Promise.resolve(result))).status).toBe('ok');
    // Right against the row it read; its use finds the code replaced, and the route checks again.
    if (result.status !== 'ok') throw new Error(`expected the check to pass on the row it read, got ${result.status}`);
    await expect(result.use(db)).rejects.toBeInstanceOf(CodeChangedMeanwhile);
    // The typed code was the replaced one's: against the new code it is a wrong guess, counted once.
    expect(await codes.verify('uid1', 'email', first)).toMatchObject({ status: 'wrong', attemptsLeft: 4 });
    expect((await usedAt(codes.verify('uid1', 'email', second))).status).toBe('ok');
  });

  it('undoes the reservation when delivery fails', async () => {
    const failed = await codes.issue({
      interactionUid: 'uid9',
      purpose: 'email',
      email: 'b@example.com',
      ip: '127.0.0.1',
      deliver: async () => {
        throw new Error('smtp down');
      },
    });
    expect(failed.status).toBe('delivery_failed');
    expect(await codes.state('uid9', 'email')).toBeUndefined();
    expect((await sql`SELECT COUNT(*) AS n FROM verification_sends`.execute(db)).rows).toEqual([{ n: 0 }]);
  });

  it('caps sends per IP', async () => {
    const limited = createCodeService({
      db,
      hmacKeys: () => [Buffer.alloc(32, 7)],
      policy: () => ({ ...defaultCodePolicy(10), perIp: { limit: 2, windowMs: 60_000 } }),
      now: () => now,
    });
    const send = (uid: string, email: string) =>
      limited.issue({ interactionUid: uid, purpose: 'email', email, ip: '10.0.0.1', deliver: async () => {} });
    expect((await send('u1', 'x1@example.com')).status).toBe('sent');
    expect((await send('u2', 'x2@example.com')).status).toBe('sent');
    expect(await send('u3', 'x3@example.com')).toMatchObject({ status: 'rate_limited' });
  });

  describe('a send whose outcome is unknown still counts', () => {
    const countSends = async () => (await db.selectFrom('verification_sends').selectAll().execute()).length;
    const slowService = (certain: boolean) =>
      createCodeService({
        db,
        hmacKeys: () => [Buffer.alloc(32, 7)],
        policy: () => defaultCodePolicy(10),
        now: () => now,
        answerWithinMs: 50,
        certainlyNotSent: () => certain,
      });

    it('answers "uncertain" when delivery outlives the deadline, keeping the code and the send', async () => {
      let finish!: () => void;
      const late = new Promise<void>((resolve) => (finish = resolve));
      const result = await slowService(true).issue({ interactionUid: 'slow', purpose: 'email', email: 's@example.com', ip: '10.0.0.1', deliver: () => late });
      expect(result.status).toBe('uncertain');
      expect(await codes.state('slow', 'email')).toBeDefined();
      expect(await countSends()).toBe(1);
      finish();
    });

    it('keeps the send when delivery fails ambiguously (a timeout after the message went out)', async () => {
      const result = await slowService(false).issue({
        interactionUid: 'ambiguous',
        purpose: 'email',
        email: 't@example.com',
        ip: '10.0.0.1',
        deliver: async () => {
          throw new Error('socket timeout after DATA');
        },
      });
      expect(result.status).toBe('uncertain');
      expect(await countSends()).toBe(1);
    });

    it('a slow server cannot push mails past the per-address cap', async () => {
      const service = slowService(false);
      const statuses: string[] = [];
      for (let i = 0; i < 8; i += 1) {
        const result = await service.issue({
          interactionUid: `u${i}`,
          purpose: 'email',
          email: 'flood@example.com',
          ip: `10.0.${i}.1`,
          deliver: async () => {
            throw new Error('timed out');
          },
        });
        statuses.push(result.status);
      }
      expect(statuses.filter((status) => status === 'uncertain')).toHaveLength(5);
      expect(statuses.slice(5)).toEqual(['rate_limited', 'rate_limited', 'rate_limited']);
    });
  });

  it('caps sends per address+IP pair below the per-address cap; a known browser is exempt from the address cap', async () => {
    const send = (uid: string, ip: string, knownDevice = false) =>
      codes.issue({ interactionUid: uid, purpose: 'email', email: 'pair@example.com', ip, knownDevice, deliver: async () => {} });
    for (let i = 0; i < 3; i += 1) expect((await send(`a${i}`, '203.0.113.5')).status).toBe('sent');
    expect((await send('a3', '203.0.113.5')).status).toBe('rate_limited');
    for (let i = 0; i < 2; i += 1) expect((await send(`b${i}`, '198.51.100.5')).status).toBe('sent');
    expect((await send('b2', '198.51.100.6')).status).toBe('rate_limited');
    expect((await send('c0', '198.51.100.7', true)).status).toBe('sent');
  });

  describe("the sign-in link: the code's second form", () => {
    const tokens: string[] = [];
    const issueWithLink = (uid = 'uidL', email = 'l@example.com') =>
      codes.issue({
        interactionUid: uid,
        purpose: 'email',
        email,
        ip: '127.0.0.1',
        link: true,
        deliver: async (code, _expiresAt, token) => {
          sent.push(code);
          tokens.push(token!);
        },
      });
    const wrongToken = (token: string) => `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`;

    it('stores only HMACs and a sealed code: neither the token nor the code is in the row', async () => {
      await issueWithLink();
      const [code, token] = [sent.at(-1)!, tokens.at(-1)!];
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const row = await db.selectFrom('verification_codes').selectAll().executeTakeFirstOrThrow();
      const text = JSON.stringify(row);
      expect(text).not.toContain(code);
      expect(text).not.toContain(token);
      expect(row.link_hmac).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(row.link_hmac).not.toBe(row.code_hmac);
    });

    it('is spent by the code, and spends the code', async () => {
      await issueWithLink('uidA');
      expect((await usedAt(codes.verify('uidA', 'email', sent.at(-1)!))).status).toBe('ok');
      expect((await codes.verifyLink('uidA', 'email', tokens.at(-1)!)).status).toBe('used');
      expect((await codes.peekLink('uidA', 'email', tokens.at(-1)!)).status).toBe('used');

      await issueWithLink('uidB');
      expect((await usedAt(codes.verifyLink('uidB', 'email', tokens.at(-1)!))).status).toBe('ok');
      expect((await codes.verify('uidB', 'email', sent.at(-1)!)).status).toBe('missing');
    });

    it('only one of a link and a code used at once wins', async () => {
      await issueWithLink('uidC');
      const results = await Promise.allSettled([usedAt(codes.verifyLink('uidC', 'email', tokens.at(-1)!)), usedAt(codes.verify('uidC', 'email', sent.at(-1)!))]);
      expect(results.filter((r) => r.status === 'fulfilled' && r.value.status === 'ok')).toHaveLength(1);
    });

    it('counts a wrong token as a wrong code, in the same tries', async () => {
      await issueWithLink('uidD');
      const token = tokens.at(-1)!;
      expect(await codes.verifyLink('uidD', 'email', wrongToken(token))).toMatchObject({ status: 'wrong', attemptsLeft: 4 });
      expect(await codes.verify('uidD', 'email', sent.at(-1) === '000000' ? '111111' : '000000')).toMatchObject({ status: 'wrong', attemptsLeft: 3 });
      for (let i = 0; i < 3; i += 1) await codes.verifyLink('uidD', 'email', wrongToken(token));
      expect((await codes.verifyLink('uidD', 'email', token)).status).toBe('dead');
      expect((await codes.peekLink('uidD', 'email', token)).status).toBe('dead');
    });

    it('peeks without writing: the code for the token holder, nothing for a wrong token', async () => {
      await issueWithLink('uidE');
      const token = tokens.at(-1)!;
      expect(await codes.peekLink('uidE', 'email', token)).toMatchObject({ status: 'valid', code: sent.at(-1), email: 'l@example.com' });
      expect(await codes.peekLink('uidE', 'email', wrongToken(token))).toEqual({ status: 'invalid' });
      expect(await codes.peekLink('uidX', 'email', token)).toEqual({ status: 'invalid' });
      expect((await codes.state('uidE', 'email'))!.attemptsLeft).toBe(5);
      now += 10 * 60_000;
      expect((await codes.peekLink('uidE', 'email', token)).status).toBe('expired');
      expect((await codes.verifyLink('uidE', 'email', token)).status).toBe('expired');
    });

    it("dies with a resend: only the newest mail's link works", async () => {
      await issueWithLink('uidF');
      const old = tokens.at(-1)!;
      now += 61_000;
      await issueWithLink('uidF');
      expect((await codes.peekLink('uidF', 'email', old)).status).toBe('invalid');
      expect((await codes.verifyLink('uidF', 'email', tokens.at(-1)!)).status).toBe('ok');
    });

    it('is not issued without the setting: no token delivered, any token refused', async () => {
      await issue('uidG');
      const row = await db.selectFrom('verification_codes').selectAll().where('interaction_uid', '=', 'uidG').executeTakeFirstOrThrow();
      expect(row.link_hmac).toBeNull();
      expect((await codes.peekLink('uidG', 'email', 'A'.repeat(43))).status).toBe('invalid');
    });
  });
});
