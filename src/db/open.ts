import { Kysely } from 'kysely';
import type pg from 'pg';
import type { DatabaseConfig } from '../config/database.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import type { Schema } from './schema.ts';
import { openSqlite } from './sqlite.ts';
import { followSettingsFeed } from './settings.ts';

/**
 * The PostgreSQL half (pg and the pool, some 15 MB once loaded) is imported only when the database
 * is PostgreSQL: a SQLite server never loads it.
 */
const postgres = () => import('./postgres.ts');

/**
 * The configured database, whichever engine: the query builder every module uses, and on
 * PostgreSQL the pool itself, for the session advisory locks that keep several instances from
 * migrating or purging at the same time.
 */
export interface OpenDatabase {
  db: Database;
  /** PostgreSQL only. */
  pool?: pg.Pool;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL: an idle pooled connection failed (the server restarted); the pool replaces it. */
  onIdleError?: (error: Error) => void;
  /**
   * PostgreSQL: hear of settings changes as they happen (LISTEN/NOTIFY on a connection of its own,
   * src/db/settings-feed.ts) instead of reading the version row per request. For the server; a
   * short-lived command has no use for it.
   */
  followSettings?: boolean;
  /** With followSettings: settings-change notices were found not to arrive (see src/db/settings-feed.ts). */
  onSettingsNoticesMissing?: () => void;
}

/**
 * Opens the database named by DATABASE_URL and proves it usable: a SQLite file is created when
 * missing; a PostgreSQL server must accept a connection and writes. Either way a database that cannot
 * be used throws a DatabaseUnavailableError whose message is the one start-up line.
 */
export async function openDatabase(config: DatabaseConfig, options: OpenDatabaseOptions = {}): Promise<OpenDatabase> {
  if (config.kind === 'sqlite') return { db: openSqlite(config.file) };
  const { createPostgresDialect, openPostgres } = await postgres();
  const pool = await openPostgres(config, { onIdleError: options.onIdleError });
  const feed = options.followSettings
    ? await (await import('./settings-feed.ts')).followSettingsChanges(config, { onMissedNotice: options.onSettingsNoticesMissing })
    : undefined;
  // Destroying the Kysely instance ends the pool, and the feed's connection with it.
  const source = { connect: () => pool.connect(), end: async () => void (await Promise.all([feed?.close(), pool.end()])) };
  // Shared reads keep one of the pool's connections for good: only when enough are left for transactions.
  const db = new Kysely<Schema>({ dialect: createPostgresDialect(source, { sharedReads: config.pool.max >= 4 }) });
  if (feed) followSettingsFeed(db, feed);
  return { db, pool };
}

/** The advisory lock the migration run holds on PostgreSQL (several instances may start together). */
export const MIGRATION_LOCK = 'sesame:migrations';
/** The advisory lock held while the first start creates the server keys (instances may start together). */
export const KEYS_LOCK = 'sesame:keys';
/** The advisory lock the periodic purge of expired rows holds on PostgreSQL (one instance at a time). */
export const PURGE_LOCK = 'sesame:purge';

/**
 * Applies pending migrations from `directory` (the engine's own: config.paths.migrations). On
 * PostgreSQL the whole run holds the session advisory lock MIGRATION_LOCK, waited for up to a minute,
 * and runs on the connection that holds it with no statement timeout: a second instance starting at
 * the same time waits, then finds everything applied.
 */
export async function migrateDatabase({ db, pool }: OpenDatabase, directory: string): Promise<string[]> {
  if (!pool) return migrate(db, directory);
  const { createPostgresDialect, lendConnection, withAdvisoryLock } = await postgres();
  return withAdvisoryLock(pool, MIGRATION_LOCK, async (client) => {
    await client.query('SET statement_timeout = 0');
    const locked = new Kysely<Schema>({ dialect: createPostgresDialect(lendConnection(client)) });
    try {
      return await migrate(locked, directory);
    } finally {
      await locked.destroy();
      await client.query('RESET statement_timeout');
    }
  });
}

/**
 * Runs `fn` while no other instance runs it (PostgreSQL: the session advisory lock `name`, waited
 * for up to a minute); on SQLite `fn` simply runs (one file, whose writes take its lock in turn).
 */
export async function runSerialized<T>(database: OpenDatabase, name: string, fn: () => Promise<T>): Promise<T> {
  if (!database.pool) return fn();
  const { withAdvisoryLock } = await postgres();
  return withAdvisoryLock(database.pool, name, () => fn());
}

/**
 * Runs `fn` unless another instance is running it right now (PostgreSQL: the session advisory lock
 * `name`, not waited for); on SQLite `fn` always runs (its writes
 * take the file's write lock in turn). Says whether it ran.
 */
export async function runExclusively(database: OpenDatabase, name: string, fn: () => Promise<void>): Promise<boolean> {
  if (!database.pool) {
    await fn();
    return true;
  }
  const { tryAdvisoryLock } = await postgres();
  return (await tryAdvisoryLock(database.pool, name, fn)).acquired;
}
