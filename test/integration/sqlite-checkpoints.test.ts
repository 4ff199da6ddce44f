import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/db/sqlite.ts';
import { tempDir } from '../helpers/sesame.ts';

const until = async (condition: () => boolean, what: string, ms = 10_000) => {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const row = 'x'.repeat(2000);
const insertRows = (engine: SqliteEngine, from: number, count: number) => {
  const insert = engine.raw.prepare('INSERT INTO t (id, body) VALUES (?, ?)');
  for (let i = from; i < from + count; i += 1) insert.run(i, row);
};
const fileSize = (file: string) => statSync(file, { throwIfNoEntry: false })?.size ?? 0;

describe('SQLite: WAL checkpoints off the event loop', () => {
  let engine: SqliteEngine | undefined;
  const dirs: { remove(): void }[] = [];
  const databaseFile = () => {
    const dir = tempDir('sesame-checkpoints-');
    dirs.push(dir);
    return join(dir.path, 'sesame.db');
  };
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    for (const dir of dirs.splice(0)) dir.remove();
  });

  it('leaves a small database alone, then hands the checkpoints of a busy one to a thread that folds the log into the file', async () => {
    const file = databaseFile();
    engine = new SqliteEngine(file, { walCheckpoints: { startAtBytes: 256 * 1024, watchEveryMs: 20, everyMs: 20 } });
    engine.raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');

    insertRows(engine, 0, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(engine.checkpointsOffThread).toBe(false);
    expect(engine.raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);

    insertRows(engine, 10, 200);
    await until(() => engine!.checkpointsOffThread, 'the checkpoint thread');
    // The main connection no longer checkpoints: what reaches the database file now is the thread's work.
    expect(engine.raw.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = fileSize(file);
    insertRows(engine, 210, 500);
    await until(() => fileSize(file) > before + 500 * 2000, 'the rows to be folded into the database file');

    await engine.close();
    engine = undefined;
    const reopened = new BetterSqlite3(file, { readonly: true });
    expect(reopened.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 710 });
    expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
    reopened.close();
  });

  it('starts the log over under steady writes, so it never grows much past its mark', async () => {
    const file = databaseFile();
    engine = new SqliteEngine(file, { walCheckpoints: { startAtBytes: 256 * 1024, watchEveryMs: 20, everyMs: 20, restartAtBytes: 1024 * 1024 } });
    engine.raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    insertRows(engine, 0, 200);
    await until(() => engine!.checkpointsOffThread, 'the checkpoint thread');
    // Writes on every turn for a second, rewriting the same 200 rows (the file stays small, the log
    // grows by every commit's pages): PASSIVE checkpoints alone never catch up with that.
    let largest = 0;
    let shrank = false;
    let written = 0;
    const started = Date.now();
    while (Date.now() - started < 1000) {
      // Through the engine, which retries on a timer while the thread holds the write lock.
      const writes = Array.from({ length: 20 }, (_, i) => engine!.runOutsideTransaction(CompiledQuery.raw('REPLACE INTO t (id, body) VALUES (?, ?)', [(written + i) % 200, row])));
      await Promise.all(writes);
      written += 20;
      const size = fileSize(`${file}-wal`);
      if (size < largest / 2) shrank = true;
      largest = Math.max(largest, size);
    }
    expect(shrank).toBe(true);
    // Without the restarts the log holds every page written (some 2 KB a row); with them, a small part.
    expect(largest).toBeLessThan((written * 2000) / 5);
    expect(engine.raw.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 200 });
  });

  it('never starts the thread when told not to', async () => {
    const file = databaseFile();
    engine = new SqliteEngine(file, { walCheckpoints: false });
    engine.raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    insertRows(engine, 0, 300);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(engine.checkpointsOffThread).toBe(false);
    expect(engine.raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });
});
