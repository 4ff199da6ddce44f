import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isUniqueViolation, type Database } from '../../src/db/database.ts';
import { directRunner } from '../../src/db/direct-statements.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openSqlite } from '../../src/db/sqlite.ts';
import { countSendsForCaps, insertSend } from '../../src/db/verification.ts';
import { TEST_ENGINE, useEngineDatabase } from '../helpers/sesame.ts';

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

  it('closes with destroy() a database used only through prepared statements, and refuses statements after', async () => {
    const file = join(dir, 'only-prepared.db');
    const only = openSqlite(file);
    await migrate(only, resolve(import.meta.dirname, '../../migrations/sqlite'));
    const fresh = openSqlite(file);
    // The first statement goes through Kysely (which starts the driver), the rest directly.
    for (let i = 0; i < 3; i += 1) await insertSend(fresh, send(`p${i}`, 'prepared@example.com'));
    expect(directRunner(fresh.getExecutor().adapter)).toBeTypeOf('function');
    await fresh.destroy();
    expect(directRunner(fresh.getExecutor().adapter)).toBeUndefined();
    await expect(insertSend(fresh, send('late', 'prepared@example.com'))).rejects.toThrow();
    await only.destroy();
    // The last connection closed checkpoints and removes the write-ahead log.
    expect(existsSync(`${file}-wal`)).toBe(false);
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

/** The same on the engine under test (PostgreSQL with TEST_DATABASE_URL): the driver's own runner, same answers and errors. */
describe(`statements outside a transaction run directly (${TEST_ENGINE})`, () => {
  const engine = useEngineDatabase('sesame-direct-engine-');
  const send = (id: string, email: string) => ({ id, email, ip: '192.0.2.9', sentAt: Date.now() });
  const sends = async (email: string) =>
    (await countSendsForCaps(engine.current.db, { email, ip: '192.0.2.9', pairSince: 0, addressSince: 0, ipSince: 0 })).address.count;

  it('has a direct runner, whose writes and reads agree with those made in a transaction', async () => {
    const { db } = engine.current;
    // The first statement starts the driver (through Kysely); from then on they run directly.
    await insertSend(db, send('e1', 'engine@example.com'));
    expect(directRunner(db.getExecutor().adapter)).toBeTypeOf('function');
    await db.transaction().execute((tx) => insertSend(tx, send('e2', 'engine@example.com')));
    expect(await sends('engine@example.com')).toBe(2);
    expect(await db.transaction().execute(async (tx) => (await countSendsForCaps(tx, { email: 'engine@example.com', ip: '192.0.2.9', pairSince: 0, addressSince: 0, ipSince: 0 })).address.count)).toBe(2);
  });

  it('does not see what a transaction has not committed, and sees it once committed', async () => {
    const { db } = engine.current;
    let during = -1;
    await db.transaction().execute(async (tx) => {
      await insertSend(tx, send('u1', 'uncommitted@example.com'));
      // SQLite: the read waits for the commit; PostgreSQL: it reads the last committed state at once.
      const read = sends('uncommitted@example.com').then((n) => (during = n));
      await new Promise((wait) => setTimeout(wait, 20));
      if (TEST_ENGINE === 'postgres') expect(await read).toBe(0);
    });
    if (TEST_ENGINE !== 'postgres') expect(during).toBe(1);
    expect(await sends('uncommitted@example.com')).toBe(1);
  });

  it('fails with the engine’s own unique violation, as through Kysely', async () => {
    const { db } = engine.current;
    await insertSend(db, send('dup', 'a@example.com'));
    const direct = await insertSend(db, send('dup', 'b@example.com')).then(() => undefined, (error: unknown) => error);
    const inTransaction = await db.transaction().execute((tx) => insertSend(tx, send('dup', 'c@example.com'))).then(() => undefined, (error: unknown) => error);
    expect(isUniqueViolation(direct)).toBe(true);
    expect(isUniqueViolation(inTransaction)).toBe(true);
  });
});
