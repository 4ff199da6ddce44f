import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isUniqueViolation, type Database } from '../../src/db/database.ts';
import { directRunner } from '../../src/db/direct-statements.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { countSendsForCaps, insertSend } from '../../src/db/verification.ts';

/**
 * prepared() statements outside a transaction run on the SQLite engine directly, not through Kysely's
 * executor (src/db/direct-statements.ts). They must keep what the executor path gave them: they wait
 * for a transaction in progress and see only what it committed, and their errors are the same.
 */
describe('SQLite statements run directly', () => {
  let dir: string;
  let db: Database;
  const send = (id: string, email: string) => ({ id, email, ip: '192.0.2.1', sentAt: Date.now() });
  const sends = async (email: string) =>
    (await countSendsForCaps(db, { email, ip: '192.0.2.1', pairSince: 0, addressSince: 0, ipSince: 0 })).address.count;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-direct-'));
    db = openSqlite(join(dir, 'd.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the direct way, except with a query log (which sees only what goes through Kysely)', async () => {
    expect(directRunner(db.getExecutor().adapter)).toBeTypeOf('function');
    const logged: string[] = [];
    const withLog = openSqlite(join(dir, 'l.db'), { log: (event) => void (event.level === 'query' && logged.push(event.query.sql)) });
    try {
      expect(directRunner(withLog.getExecutor().adapter)).toBeUndefined();
      await migrate(withLog, resolve(import.meta.dirname, '../../migrations/sqlite'));
      logged.length = 0;
      await insertSend(withLog, send('l1', 'logged@example.com'));
      expect(logged).toEqual([expect.stringMatching(/^insert into "verification_sends"/)]);
    } finally {
      await withLog.destroy();
    }
  });

  it('waits for a transaction in progress, then sees what it committed', async () => {
    let readDuring: Promise<number> | undefined;
    let settledDuring = false;
    await db.transaction().execute(async (tx) => {
      await insertSend(tx, send('t1', 'committed@example.com'));
      readDuring = sends('committed@example.com');
      void readDuring.then(() => (settledDuring = true));
      // Turns of the event loop inside the transaction: the outside read must not run meanwhile.
      for (let i = 0; i < 5; i += 1) await new Promise((wait) => setImmediate(wait));
      expect(settledDuring).toBe(false);
      await insertSend(tx, send('t2', 'committed@example.com'));
    });
    expect(await readDuring).toBe(2);
  });

  it('does not see what a transaction rolled back', async () => {
    let readDuring: Promise<number> | undefined;
    await db
      .transaction()
      .execute(async (tx) => {
        await insertSend(tx, send('r1', 'rolled-back@example.com'));
        readDuring = sends('rolled-back@example.com');
        await new Promise((wait) => setImmediate(wait));
        throw new Error('undo');
      })
      .catch(() => undefined);
    expect(await readDuring).toBe(0);
  });

  it('fails with SQLite’s own error, as through Kysely', async () => {
    await insertSend(db, send('same', 'first@example.com'));
    const direct = await insertSend(db, send('same', 'second@example.com')).then(() => undefined, (error: unknown) => error);
    const throughKysely = await db.transaction().execute((tx) => insertSend(tx, send('same', 'third@example.com'))).then(() => undefined, (error: unknown) => error);
    expect(isUniqueViolation(direct)).toBe(true);
    expect(isUniqueViolation(throughKysely)).toBe(true);
    expect((direct as { code?: string }).code).toBe((throughKysely as { code?: string }).code);
  });
});
