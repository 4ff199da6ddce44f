import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.ts';
import { writeTransient } from '../../src/db/transient.ts';
import { countSendsForCaps, insertSend } from '../../src/db/verification.ts';
import { writeOrHold, writeTogether } from '../../src/oidc/request-writes.ts';
import { TEST_ENGINE, useEngineDatabase } from '../helpers/sesame.ts';

/**
 * Sign-in progress commits without waiting for the disk on PostgreSQL (src/db/transient.ts): only
 * the transactions that hold nothing else, and only for themselves (SET LOCAL), while committing and
 * rolling back exactly as any other transaction.
 */
describe(`transient commits (${TEST_ENGINE})`, () => {
  const engine = useEngineDatabase('sesame-transient-');
  const db = () => engine.current.db;
  const sends = async (email: string) => (await countSendsForCaps(db(), { email, ip: '192.0.2.1', pairSince: 0, addressSince: 0, ipSince: 0 })).address.count;
  const send = (id: string, email: string) => ({ id, email, ip: '192.0.2.1', sentAt: Date.now() });
  /** The session's synchronous_commit as a statement in `q` sees it. */
  const flushWait = async (q: Queryable) => (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(q)).rows[0]!.synchronous_commit;

  it('commits its writes, and rolls them all back when one fails', async () => {
    await writeTransient(db(), async (tx) => {
      await insertSend(tx, send('t1', 'kept@example.com'));
      await insertSend(tx, send('t2', 'kept@example.com'));
    });
    expect(await sends('kept@example.com')).toBe(2);
    await expect(
      writeTransient(db(), async (tx) => {
        await insertSend(tx, send('t3', 'dropped@example.com'));
        await insertSend(tx, send('t1', 'dropped@example.com'));
      }),
    ).rejects.toThrow();
    expect(await sends('dropped@example.com')).toBe(0);
  });

  it.runIf(TEST_ENGINE === 'postgres')('waits for the disk only outside it, and never leaves the setting on a pooled connection', async () => {
    let inside = '';
    await writeTransient(db(), async (tx) => {
      inside = await flushWait(tx);
    });
    expect(inside).toBe('off');
    // Every pooled connection, after it: the server's own setting.
    const after = await Promise.all(Array.from({ length: 4 }, () => db().transaction().execute(flushWait)));
    expect(after).toEqual(['on', 'on', 'on', 'on']);
  });

  it.runIf(TEST_ENGINE === 'postgres')('holds a request’s writes transient only when every one of them is', async () => {
    const seen: string[] = [];
    const look = async (q: Queryable) => void seen.push(await flushWait(q));
    await writeTogether(db(), async () => {
      await writeOrHold(db(), look, { transient: true });
    });
    await writeTogether(db(), async () => {
      await writeOrHold(db(), (q) => insertSend(q, send('h1', 'held@example.com')), { transient: true });
      await writeOrHold(db(), look, { transient: true });
    });
    // A grant or a token among them (a durable write): the whole flush waits for the disk.
    await writeTogether(db(), async () => {
      await writeOrHold(db(), look, { transient: true });
      await writeOrHold(db(), (q) => insertSend(q, send('h2', 'held@example.com')));
    });
    expect(seen).toEqual(['off', 'off', 'on']);
    expect(await sends('held@example.com')).toBe(2);
  });
});
