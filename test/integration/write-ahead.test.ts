import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../src/db/database.ts';
import { countSendsForCaps, findCode, insertSend, saveCode } from '../../src/db/verification.ts';
import { writeAhead } from '../../src/db/write-ahead.ts';
import { codeRecord, TEST_ENGINE, useEngineDatabase } from '../helpers/sesame.ts';

/**
 * Writes sent ahead (src/db/write-ahead.ts) on the engine under test: on PostgreSQL they travel with
 * the transaction's next statement or its COMMIT, and must behave exactly as if sent on their own:
 * committed with the transaction, failing it with their own error, dropped by a rollback.
 */
describe(`writes sent ahead (${TEST_ENGINE})`, () => {
  const engine = useEngineDatabase('sesame-write-ahead-');
  const sends = async (email: string) => (await countSendsForCaps(engine.current.db, { email, ip: '192.0.2.1', pairSince: 0, addressSince: 0, ipSince: 0 })).address.count;
  const send = (id: string, email: string) => ({ id, email, ip: '192.0.2.1', sentAt: Date.now() });

  it('commits them with the transaction', async () => {
    await engine.current.db.transaction().execute(async (tx) => {
      await insertSend(tx, send('a1', 'committed@example.com'));
      await writeAhead(tx, async () => {
        await insertSend(tx, send('a2', 'committed@example.com'));
        await insertSend(tx, send('a3', 'committed@example.com'));
      });
    });
    expect(await sends('committed@example.com')).toBe(3);
  });

  it('fails the transaction with the write’s own error, and rolls back what came before it', async () => {
    await insertSend(engine.current.db, send('taken', 'first@example.com'));
    const error = await engine.current.db
      .transaction()
      .execute(async (tx) => {
        await insertSend(tx, send('b1', 'rolled-back@example.com'));
        await writeAhead(tx, async () => {
          await insertSend(tx, send('b2', 'rolled-back@example.com'));
          await insertSend(tx, send('taken', 'rolled-back@example.com'));
        });
      })
      .then(() => undefined, (caught: unknown) => caught);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await sends('rolled-back@example.com')).toBe(0);
    // The connection went back to the pool in a sound state.
    await insertSend(engine.current.db, send('b3', 'after@example.com'));
    expect(await sends('after@example.com')).toBe(1);
  });

  it('a statement after them sees them, and a read made inside writeAhead is answered', async () => {
    const code = codeRecord('uid-1', 'read@example.com');
    const seen = await engine.current.db.transaction().execute(async (tx) =>
      writeAhead(tx, async () => {
        await saveCode(tx, code);
        return findCode(tx, 'uid-1', 'sign-in');
      }),
    );
    expect(seen).toEqual(code);
  });

  it('drops them when the transaction is rolled back', async () => {
    await expect(
      engine.current.db.transaction().execute(async (tx) => {
        await writeAhead(tx, () => insertSend(tx, send('c1', 'dropped@example.com')));
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await sends('dropped@example.com')).toBe(0);
  });

  it.runIf(TEST_ENGINE === 'postgres')('sends BEGIN, the writes and COMMIT in one round trip', async () => {
    // Statements one client issues in the same turn of the event loop are written together.
    let roundTrips = 0;
    let statements = 0;
    const batching = new WeakSet<pg.Client>();
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      statements++;
      if (!batching.has(this)) {
        roundTrips++;
        batching.add(this);
        queueMicrotask(() => batching.delete(this));
      }
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      await engine.current.db.transaction().execute(async (tx) => {
        await writeAhead(tx, async () => {
          await insertSend(tx, send('d1', 'one-trip@example.com'));
          await insertSend(tx, send('d2', 'one-trip@example.com'));
        });
      });
      // An empty transaction sends nothing at all.
      await engine.current.db.transaction().execute(async () => undefined);
    } finally {
      pg.Client.prototype.query = query;
    }
    expect({ statements, roundTrips }).toEqual({ statements: 4, roundTrips: 1 });
    expect(await sends('one-trip@example.com')).toBe(2);
  });
});
