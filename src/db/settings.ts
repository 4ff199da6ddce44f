import type { Database, Queryable } from './database.ts';

/**
 * Operator settings, one JSON document per key. Every write and delete also bumps one counter row,
 * `settings.version`, in the same transaction, so a process can cache what it derived from the
 * settings and find out whether anything changed, in any process, with one read of one small row.
 */
const VERSION_KEY = 'settings.version';

export async function readSetting<T>(db: Queryable, key: string): Promise<{ value: T; updatedAt: number } | undefined> {
  const row = await db.get<{ value: string; updated_at: number }>('SELECT value, updated_at FROM settings WHERE key = ?', [key]);
  return row && { value: JSON.parse(row.value) as T, updatedAt: row.updated_at };
}

export async function writeSetting(db: Queryable, key: string, value: unknown, at: number): Promise<void> {
  await changing(db, at, async (tx) => {
    await tx.run(
      `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [key, JSON.stringify(value), at],
    );
    return true;
  });
}

export async function deleteSetting(db: Queryable, key: string, at = Date.now()): Promise<boolean> {
  return changing(db, at, async (tx) => (await tx.run('DELETE FROM settings WHERE key = ?', [key])).changes > 0);
}

/** Bumped by this process's own writes: a version read earlier in the same turn is stale then. */
let localChanges = 0;

/** Runs `change` and, when it changed something, bumps the version, both in one transaction. */
async function changing(db: Queryable, at: number, change: (tx: Queryable) => Promise<boolean>): Promise<boolean> {
  const apply = async (tx: Queryable) => {
    const changed = await change(tx);
    if (changed) {
      await tx.run(
        `INSERT INTO settings (key, value, updated_at) VALUES (?, '1', ?)
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at`,
        [VERSION_KEY, at],
      );
    }
    return changed;
  };
  // Before the write: a version read from now on waits for it (reads wait for a transaction).
  localChanges += 1;
  // A Database opens its own transaction; a transaction's handle is already inside one.
  return 'transaction' in db ? (db as Database).transaction(apply) : apply(db);
}

/** 0 until the first setting is written. */
async function readVersion(db: Queryable): Promise<number> {
  const row = await db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [VERSION_KEY]);
  return row ? Number(row.value) : 0;
}

const versionChecks = new WeakMap<Queryable, { localChanges: number; version: Promise<number> }>();

/**
 * The settings version, read at most once per event-loop turn and database: the uses within one
 * turn (a request's handler runs in one turn unless it waits on the network) share one read, as if
 * they happened at the same instant. A write by this process forgets it at once; a write by another
 * process is seen from the next turn on.
 */
export function settingsVersion(db: Queryable): Promise<number> {
  const memo = versionChecks.get(db);
  if (memo && memo.localChanges === localChanges) return memo.version;
  const version = readVersion(db);
  versionChecks.set(db, { localChanges, version });
  setImmediate(() => {
    if (versionChecks.get(db)?.version === version) versionChecks.delete(db);
  });
  return version;
}

/**
 * `derive(db, arg)` (read settings, parse, validate) done again only when the settings version
 * changed or `arg` differs, per database. A version stamp rather than a timer: a cache that expires
 * after N seconds would either re-read nearly as often as no cache or let `sesame experience set`
 * and `sesame connector set` (another process) take effect only after it expires, and every worker
 * would see the change at a different moment. The stamp costs one indexed read of one row and a
 * change applies to the very next use, in every process. (A hand edit of the settings table that
 * does not bump `settings.version` is not seen until the next write or a restart.)
 */
export function cachedFromSettings<T, A = void>(derive: (db: Queryable, arg: A) => Promise<T>): (db: Queryable, arg: A) => Promise<T> {
  const cache = new WeakMap<Queryable, { version: number; arg: A; value: Promise<T> }>();
  return async (db, arg) => {
    // The version is read before the settings: a write in between is caught by the next check.
    const version = await settingsVersion(db);
    const hit = cache.get(db);
    if (hit && hit.version === version && hit.arg === arg) return hit.value;
    const value = derive(db, arg);
    cache.set(db, { version, arg, value });
    // A failure (the database unavailable, an invalid document) is not kept: the next use tries again.
    value.catch(() => {
      if (cache.get(db)?.value === value) cache.delete(db);
    });
    return value;
  };
}
