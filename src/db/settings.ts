import { sql } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import { isPostgres } from './serialize.ts';

/**
 * Operator settings, one JSON document per key. Every write and delete also bumps one counter row,
 * `settings.version`, in the same transaction, so a process can cache what it derived from the
 * settings and find out whether anything changed, in any process, with one read of one small row.
 */
export const SETTINGS_VERSION_KEY = 'settings.version';

/** PostgreSQL: the channel every settings write notifies (see src/db/settings-feed.ts). */
export const SETTINGS_CHANNEL = 'sesame_settings';

/** Change notices from the database (PostgreSQL's LISTEN/NOTIFY), when a process follows them. */
export interface SettingsFeed {
  /** Whether notices arrive right now; while not, the caches read the version row instead. */
  live(): boolean;
  /** Notices received, plus one each time the feed (re)started: grows with every possible change. */
  readonly changes: number;
}

const feeds = new WeakMap<Queryable, SettingsFeed>();

/** Lets the settings caches of `db` rely on `feed` instead of reading the version row on every turn. */
export function followSettingsFeed(db: Queryable, feed: SettingsFeed): void {
  feeds.set(db, feed);
}

const selectSetting = prepared((db, p: { key: string }) => db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', p.key));

export async function readSetting<T>(db: Queryable, key: string): Promise<{ value: T; updatedAt: number } | undefined> {
  const [row] = (await selectSetting(db, { key })).rows;
  // The caller validates the document (a setting is written through the same types it is read with).
  return row && { value: JSON.parse(row.value) as T, updatedAt: Number(row.updated_at) };
}

export async function writeSetting(db: Queryable, key: string, value: unknown, at: number): Promise<void> {
  await changing(db, at, async (tx) => {
    await tx
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value), updated_at: at })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at') })),
      )
      .execute();
    return true;
  });
}

export async function deleteSetting(db: Queryable, key: string, at = Date.now()): Promise<boolean> {
  return changing(db, at, async (tx) => {
    const result = await tx.deleteFrom('settings').where('key', '=', key).executeTakeFirst();
    return result.numDeletedRows > 0n;
  });
}

/** Bumped by this process's own writes: a version read earlier in the same turn is stale then. */
let localChanges = 0;

/** Runs `change` and, when it changed something, bumps the version, both in one transaction. */
async function changing(db: Queryable, at: number, change: (tx: Queryable) => Promise<boolean>): Promise<boolean> {
  const apply = async (tx: Queryable) => {
    const changed = await change(tx);
    if (changed) {
      await tx
        .insertInto('settings')
        .values({ key: SETTINGS_VERSION_KEY, value: '1', updated_at: at })
        .onConflict((conflict) =>
          conflict.column('key').doUpdateSet((eb) => ({
            value: sql<string>`CAST(CAST(${eb.ref('settings.value')} AS INTEGER) + 1 AS TEXT)`,
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    }
    // Every instance following the settings feed hears of it when this transaction commits.
    if (changed && isPostgres(tx)) await sql`SELECT pg_notify(${SETTINGS_CHANNEL}, '')`.execute(tx);
    return changed;
  };
  // Before the write: a version read from now on waits for it (reads wait for a transaction).
  localChanges += 1;
  // A transaction's handle is already inside one; the database opens its own.
  const changed = await (db.isTransaction ? apply(db) : db.transaction().execute(apply));
  // And after it: on PostgreSQL a read during the write saw the old rows (and this process's own
  // notice may still be on its way).
  localChanges += 1;
  return changed;
}

/** 0 until the first setting is written. */
async function readVersion(db: Queryable): Promise<number> {
  const [row] = (await selectSetting(db, { key: SETTINGS_VERSION_KEY })).rows;
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
  // Following the feed, nothing needs reading: the version is what was heard (negative, so it never
  // equals a version read from the row, which is 0 or more).
  const feed = feeds.get(db);
  if (feed?.live()) return Promise.resolve(-1 - feed.changes - localChanges);
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
