import { Socket } from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { DatabaseUnavailableError } from '../../src/db/database.ts';
import { findCode, saveCode } from '../../src/db/verification.ts';
import { describePostgres } from '../helpers/postgres.ts';
import { codeRecord, useEngineDatabase } from '../helpers/sesame.ts';

/**
 * PostgreSQL's shared reads (src/db/postgres.ts SharedReads): the plain reads of all requests go out
 * on one pipelined connection, those of one turn of the event loop in one write; writes and locking
 * reads never do, so a read cannot queue behind a statement waiting for a lock; a lost connection
 * fails the reads on it with a 503 fault and the next read gets a new one.
 */
describePostgres('shared reads on PostgreSQL', () => {
  const engine = useEngineDatabase('sesame-shared-reads-');
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers concurrent reads on one connection, sent in one write', async () => {
    const { db, pool } = engine.current;
    await Promise.all(Array.from({ length: 20 }, (_, i) => saveCode(db, codeRecord(`many-${i}`, `many-${i}@example.com`))));
    await findCode(db, 'many-0', 'sign-in'); // the shared connection exists from here on
    const before = pool!.totalCount;
    const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
    const write = vi.spyOn(Socket.prototype as unknown as { _write: () => void }, '_write');
    const found = await Promise.all(Array.from({ length: 20 }, (_, i) => findCode(db, `many-${i}`, 'sign-in')));
    expect(found.map((record) => record?.email)).toEqual(Array.from({ length: 20 }, (_, i) => `many-${i}@example.com`));
    expect(writev.mock.calls.length + write.mock.calls.length).toBe(1);
    expect(pool!.totalCount).toBe(before);
  });

  it('a read is answered while another request waits for a row lock a transaction holds', async () => {
    const { db } = engine.current;
    await saveCode(db, codeRecord('locked', 'locked@example.com'));
    let waiting: Promise<void> | undefined;
    const seen = await db.transaction().execute(async (tx) => {
      await tx.selectFrom('verification_codes').select('email').where('interaction_uid', '=', 'locked').forUpdate().execute();
      // Another request's write to the same row now waits for this transaction to end...
      waiting = db
        .updateTable('verification_codes')
        .set({ consumed_at: Date.now() })
        .where('interaction_uid', '=', 'locked')
        .execute()
        .then(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // ...and a read made meanwhile must not queue behind it (that would never end).
      return findCode(db, 'locked', 'sign-in');
    });
    expect(seen?.consumedAt).toBeNull();
    await waiting;
    expect((await findCode(db, 'locked', 'sign-in'))?.consumedAt).not.toBeNull();
  });

  it('a lost shared connection fails with a database fault, and the next read gets a new one', async () => {
    const { db, pool } = engine.current;
    await saveCode(db, codeRecord('lost', 'lost@example.com'));
    await findCode(db, 'lost', 'sign-in');
    // The only backend of this pool that is not running the query below: the shared connection.
    const { rows } = await pool!.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1 AND state = 'idle'",
      [(await pool!.query<{ name: string }>("SELECT current_setting('application_name') AS name")).rows[0]!.name],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const { pid } of rows) await pool!.query('SELECT pg_terminate_backend($1)', [pid]);
    const outcomes: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const outcome = await findCode(db, 'lost', 'sign-in').then(
        (record) => record?.email,
        (error: unknown) => error,
      );
      outcomes.push(outcome);
      if (outcome === 'lost@example.com') break;
    }
    expect(outcomes.at(-1)).toBe('lost@example.com');
    for (const failure of outcomes.slice(0, -1)) expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect(outcomes.length).toBeLessThanOrEqual(2);
  });
});
