import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isUniqueViolation, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openSqlite, SqliteEngine } from '../../src/db/sqlite.ts';
import { insertSend } from '../../src/db/verification.ts';

/**
 * The SQLite engine group-commits (src/db/sqlite.ts, Batch): the writes and transactions of one turn
 * of the event loop share one COMMIT. What each caller sees must not change: its promise settles only
 * once what it wrote is committed (another connection, as another process, sees it then), a
 * transaction that rolls back undoes only its own writes, and a failed statement fails only its caller.
 */
describe('SQLite group commit', () => {
  let dir: string;
  let file: string;
  let db: Database;
  /** Another connection to the file: what another process (a worker, the CLI) sees. */
  let other: BetterSqlite3.Database;
  const send = (id: string, email = 'group@example.com') => ({ id, email, ip: '192.0.2.1', sentAt: Date.now() });
  const committedIds = () => (other.prepare('select id from verification_sends order by id').all() as { id: string }[]).map((row) => row.id);
  /** A transaction that writes the send `id`, then throws: its outcome is 'undo' (rolled back), else 'committed'. */
  const rolledBack = (id: string) =>
    db
      .transaction()
      .execute(async (tx) => {
        await insertSend(tx, send(id));
        throw new Error('undo');
      })
      .then(
        () => 'committed',
        (error: Error) => error.message,
      );
  const commits = () => {
    const prepare = vi.spyOn(SqliteEngine.prototype, 'prepare');
    return () => prepare.mock.calls.filter(([text]) => text === 'COMMIT').length;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-group-commit-'));
    file = join(dir, 'g.db');
    db = openSqlite(file);
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    other = new BetterSqlite3(file, { readonly: true });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    other.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the writes of one turn once, and answers each only once it is committed', async () => {
    await insertSend(db, send('warm-up')); // starts the driver: from here on statements run directly
    // The batch's age stands still: a batch open longer than MAX_BATCH_MS is committed before the next
    // write joins it (src/db/sqlite.ts joinBatch), and on a slow or busy machine this turn's statements
    // took longer than that (CI saw two commits). One commit per turn is what this test is about.
    const now = performance.now();
    vi.spyOn(performance, 'now').mockReturnValue(now);
    const countCommits = commits();
    const seenWhenAnswered: string[][] = [];
    const writes = ['a', 'b', 'c', 'd', 'e'].map((id) => insertSend(db, send(id)).then(() => seenWhenAnswered.push(committedIds())));
    const inTransaction = db.transaction().execute((tx) => insertSend(tx, send('f'))).then(() => seenWhenAnswered.push(committedIds()));
    // Nothing is committed before the turn ends.
    expect(committedIds()).toEqual(['warm-up']);
    await Promise.all([...writes, inTransaction]);
    expect(countCommits()).toBe(1);
    // Whoever was answered first already found every write of the turn committed.
    for (const seen of seenWhenAnswered) expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'warm-up']);
  });

  it('rolls a transaction back alone: the writes around it in the same turn stay', async () => {
    const before = insertSend(db, send('before'));
    const failed = rolledBack('undone');
    const after = insertSend(db, send('after'));
    await Promise.all([before, after]);
    expect(await failed).toBe('undo');
    expect(committedIds()).toEqual(['after', 'before']);
  });

  it('rolls back a transaction that opened the batch, and commits what joins the turn after it', async () => {
    const failed = rolledBack('undone-first');
    const after = insertSend(db, send('after-first'));
    const inTransaction = db.transaction().execute((tx) => insertSend(tx, send('in-transaction')));
    await Promise.all([after, inTransaction]);
    expect(await failed).toBe('undo');
    expect(committedIds()).toEqual(['after-first', 'in-transaction']);
  });

  it('fails a statement alone: the other writes of the turn are committed', async () => {
    await insertSend(db, send('taken'));
    const results = await Promise.allSettled([insertSend(db, send('one')), insertSend(db, send('taken')), insertSend(db, send('two'))]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(isUniqueViolation((results[1] as PromiseRejectedResult).reason)).toBe(true);
    expect(committedIds()).toEqual(['one', 'taken', 'two']);
  });

  it('waits for a transaction that spans the turn, then commits everything, the writes made before it too', async () => {
    await insertSend(db, send('warm-up'));
    let earlyAnswered = false;
    const early = insertSend(db, send('early')).then(() => (earlyAnswered = true));
    await db.transaction().execute(async (tx) => {
      await insertSend(tx, send('spanning'));
      for (let i = 0; i < 3; i += 1) await new Promise((turn) => setImmediate(turn));
      // The early write shares the transaction's batch: it is not answered before the batch commits.
      expect(earlyAnswered).toBe(false);
      expect(committedIds()).toEqual(['warm-up']);
    });
    await early;
    expect(committedIds()).toEqual(['early', 'spanning', 'warm-up']);
  });

  it('fails every write of a batch whose COMMIT fails, stores none of them, and commits the next turn as usual', async () => {
    // A deferred foreign key is checked at COMMIT: the one way to make SQLite refuse a COMMIT on demand.
    await sql`create table parents (id text primary key)`.execute(db);
    await sql`create table children (parent text references parents (id) deferrable initially deferred)`.execute(db);
    await insertSend(db, send('warm-up'));
    const turn = await Promise.allSettled([insertSend(db, send('lost')), sql`insert into children (parent) values ('nobody')`.execute(db)]);
    expect(turn.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((turn[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(committedIds()).toEqual(['warm-up']);
    await insertSend(db, send('next'));
    expect(committedIds()).toEqual(['next', 'warm-up']);
  });

  it('runs what cannot run in a transaction (a script, DDL) after committing the batch', async () => {
    const write = insertSend(db, send('pending'));
    await sql.raw('create table scripted (a integer); insert into scripted values (1);').execute(db);
    await write;
    expect(committedIds()).toEqual(['pending']);
    expect(other.prepare('select count(*) as n from scripted').get()).toEqual({ n: 1 });
  });
});
