import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { readHits } from '../../src/db/rate-limit-hits.ts';
import { databaseRateLimitStore, LOCAL_SHARE } from '../../src/http/rate-limit-store.ts';

/** The shared rate-limit store on one SQLite database (WORKERS share it so); the PostgreSQL twin is in postgres-limits. */
describe('shared HTTP rate-limit store', () => {
  let dir: string;
  let db: Database;
  let statements: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-rate-'));
    statements = [];
    db = openSqlite(join(dir, 'r.db'), { log: (event) => void (event.level === 'query' && statements.push(event.query.sql)) });
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    statements = [];
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const hit = (store: FastifyRateLimitStore, key: string, max: number) =>
    new Promise<{ current: number; ttl: number }>((resolveHit, reject) =>
      store.incr(key, (error, result) => (error || !result ? reject(error ?? new Error('no result')) : resolveHit(result)), 60_000, max),
    );

  it('answers a client far from its budget without a statement, and adds its hits in one flush', async () => {
    const Store = databaseRateLimitStore(db);
    const store = new Store();
    const MAX = 800;
    for (let i = 1; i <= 50; i += 1) expect((await hit(store, '192.0.2.1', MAX)).current).toBe(i);
    expect(statements).toEqual([]);
    await Store.flush();
    expect(statements.filter((sql) => sql.startsWith('insert into "rate_limit_hits"'))).toHaveLength(1);
    expect((await readHits(db, 'all:192.0.2.1'))?.hits).toBe(50);
  });

  it('counts every hit in the database once a client has used its local share of the budget', async () => {
    const Store = databaseRateLimitStore(db);
    const store = new Store();
    const MAX = 16;
    const local = Math.floor(MAX * LOCAL_SHARE);
    const answers: number[] = [];
    for (let i = 0; i < MAX + 2; i += 1) answers.push((await hit(store, '192.0.2.2', MAX)).current);
    expect(answers).toEqual(Array.from({ length: MAX + 2 }, (_, i) => i + 1));
    // The first `local` were answered here; from then on each one is in the table before its answer.
    expect((await readHits(db, 'all:192.0.2.2'))?.hits).toBe(MAX + 2);
    expect(statements.filter((sql) => sql.startsWith('insert into "rate_limit_hits"'))).toHaveLength(MAX + 2 - local);
  });

  it('flushes any number of clients, in statements of bounded size', async () => {
    const Store = databaseRateLimitStore(db);
    const store = new Store();
    for (let i = 0; i < 1200; i += 1) await hit(store, `198.51.100.${i}`, 1000);
    await Store.flush();
    expect(statements.filter((sql) => sql.startsWith('insert into "rate_limit_hits"'))).toHaveLength(3);
    expect((await readHits(db, 'all:198.51.100.1199'))?.hits).toBe(1);
    expect((await db.selectFrom('rate_limit_hits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n).toBe(1200);
  });
});
