import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, linkSync, realpathSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type TableMetadata } from 'kysely';
import type { PostgresDatabaseConfig, SqliteDatabaseConfig } from '../config/database.ts';
import { migrateDatabase, openDatabase, type OpenDatabase } from './open.ts';
import { describeFault } from './sqlite.ts';

/**
 * Copies of the database: `sesame db copy` (SQLite -> an empty PostgreSQL database, moving up to
 * several instances) and `sesame db backup` (a consistent copy of a SQLite file while Sesame runs).
 *
 * Both read the SQLite file through a read-only connection of their own, not Sesame's engine: its
 * transactions are BEGIN IMMEDIATE (the write lock), while a plain read transaction in WAL mode
 * sees one snapshot and never holds up a running server's writes.
 *
 * Every table is copied by name, as the databases list them, so a table added by a later migration
 * is copied without a change here. Expired rows (old sessions, spent codes) are copied as they are:
 * the next purge on the new database removes them, and the row counts compare whole tables.
 */

/** Sesame cannot copy this way (not SQLite, not empty, different migrations, counts differ). */
export class CopyRefusedError extends Error {}

/** Kept by the migration runner in each database, never copied (the target's own run fills it). */
const MIGRATIONS_TABLE = 'schema_migrations';
/**
 * Rows that only describe the moment, not state worth moving: /health's write probe and counters
 * of request budgets (a later migration may add such tables; they are matched by name).
 */
const EPHEMERAL_TABLES = [/^health_check$/, /^rate_limit/];

/** Rows per INSERT: few enough to stay far below PostgreSQL's 65,535 parameters with any table. */
export const COPY_BATCH_ROWS = 500;

// Tables are taken by name from the databases themselves, so the copier works on untyped rows.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDatabase = Kysely<any>;
type Row = Record<string, unknown>;

export interface CopyOptions {
  source: SqliteDatabaseConfig;
  target: PostgresDatabaseConfig;
  /** migrations/sqlite and migrations/postgres: both databases are brought up to this Sesame first. */
  migrations: { sqlite: string; postgres: string };
  batchRows?: number;
}

export interface CopyReport {
  source: string;
  /** The target's URL with the password hidden. */
  target: string;
  /** Rows copied per table (equal in both databases when the copy committed). */
  tables: { name: string; rows: number }[];
  /** Tables left behind on purpose (see EPHEMERAL_TABLES and MIGRATIONS_TABLE). */
  skipped: string[];
  /** The migrations both databases carry. */
  migrations: string[];
}

/**
 * Copies every Sesame table of the SQLite database into an empty PostgreSQL database in one
 * PostgreSQL transaction, read from one SQLite snapshot, and commits only when every table's row
 * count is the same on both sides; anything else rolls back, leaving the target's tables empty.
 */
export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  const { source, target } = options;
  mustExist(source.file);
  await migrateSource(source, options.migrations.sqlite);
  const targetDb = await openTarget(target);
  try {
    await migrateDatabase(targetDb, options.migrations.postgres);
    const reader = openSqliteReader(source.file);
    try {
      // The snapshot starts at the transaction's first read and holds to its end.
      const report = await reader.transaction().execute((snapshot) => copyFromSnapshot(snapshot, targetDb, options));
      return { source: source.file, target: target.safeUrl, ...report };
    } finally {
      await reader.destroy();
    }
  } finally {
    await targetDb.db.destroy();
  }
}

/**
 * The target cannot be opened (unreachable, missing, bad password, ...): the message is the one
 * start-up line Sesame gives for DATABASE_URL; the CLI names its own flag instead.
 */
export class TargetUnavailableError extends Error {}

async function openTarget(target: PostgresDatabaseConfig): Promise<OpenDatabase> {
  try {
    return await openDatabase(target);
  } catch (error) {
    throw new TargetUnavailableError((error as Error).message, { cause: error });
  }
}

/** Brings the source up to this Sesame's schema, as any `sesame` command or a start would. */
async function migrateSource(source: SqliteDatabaseConfig, directory: string): Promise<void> {
  const opened = await openDatabase(source);
  try {
    await migrateDatabase(opened, directory);
  } finally {
    await opened.db.destroy();
  }
}

async function copyFromSnapshot(snapshot: AnyDatabase, target: OpenDatabase, options: CopyOptions): Promise<Omit<CopyReport, 'source' | 'target'>> {
  const migrations = await sameMigrations(snapshot, target.db);
  const { copied: tables, skipped } = await tablesToCopy(snapshot, target.db);
  const batchRows = options.batchRows ?? COPY_BATCH_ROWS;
  const counts = await target.db.transaction().execute(async (tx) => {
    await lockAndRefuseNonEmpty(tx, tables);
    const counts: { name: string; rows: number }[] = [];
    for (const table of tables) counts.push({ name: table.name, rows: await copyTable(snapshot, tx, table.name, batchRows) });
    await resetSequences(tx, tables);
    await verifyCounts(snapshot, tx, counts);
    return counts;
  });
  return { tables: counts, skipped, migrations };
}

/** Both databases must carry the same migrations, or the same table could mean different things. */
async function sameMigrations(source: AnyDatabase, target: AnyDatabase): Promise<string[]> {
  const names = async (db: AnyDatabase) =>
    ((await db.selectFrom(MIGRATIONS_TABLE).select('name').orderBy('name').execute()) as { name: string }[]).map((row) => row.name);
  const [inSource, inTarget] = [await names(source), await names(target)];
  const onlySource = inSource.filter((name) => !inTarget.includes(name));
  const onlyTarget = inTarget.filter((name) => !inSource.includes(name));
  if (onlySource.length) {
    throw new CopyRefusedError(
      `the SQLite database has migrations the PostgreSQL database lacks (${onlySource.join(', ')}): a newer Sesame wrote it; run the copy with that version`,
    );
  }
  if (onlyTarget.length) {
    throw new CopyRefusedError(
      `the PostgreSQL database has migrations the SQLite database lacks (${onlyTarget.join(', ')}): a newer Sesame migrated it; run the copy with that version, or use a new empty database`,
    );
  }
  return inSource;
}

/** The tables of both databases, in name order, less the migrations record and ephemeral tables. */
async function tablesToCopy(source: AnyDatabase, target: AnyDatabase): Promise<{ copied: TableMetadata[]; skipped: string[] }> {
  const schema = (await sql<{ name: string }>`SELECT current_schema() AS name`.execute(target)).rows[0]?.name;
  const targetTables = new Map(
    (await target.introspection.getTables()).filter((table) => !table.isView && table.schema === schema).map((table) => [table.name, table]),
  );
  const sourceNames = (await source.introspection.getTables()).filter((table) => !table.isView).map((table) => table.name);
  const skip = (name: string) => name === MIGRATIONS_TABLE || EPHEMERAL_TABLES.some((pattern) => pattern.test(name));
  const missing = sourceNames.filter((name) => !skip(name) && !targetTables.has(name));
  if (missing.length) throw new CopyRefusedError(`the PostgreSQL database has no table ${missing.join(', ')} although the migrations match`);
  const copied = sourceNames
    .filter((name) => !skip(name))
    .sort()
    .map((name) => targetTables.get(name)!);
  return { copied, skipped: sourceNames.filter(skip).sort() };
}

/**
 * Takes every target table in EXCLUSIVE mode (reads still pass, writes wait for the commit), so a
 * Sesame started on the target meanwhile cannot add keys between the check and the copy; then
 * refuses, naming them, if any of the tables holds a row.
 */
async function lockAndRefuseNonEmpty(tx: AnyDatabase, tables: TableMetadata[]): Promise<void> {
  if (!tables.length) return;
  await sql`LOCK TABLE ${sql.join(tables.map((table) => sql.table(table.name)))} IN EXCLUSIVE MODE`.execute(tx);
  const filled: string[] = [];
  for (const table of tables) {
    const rows = await countRows(tx, table.name);
    if (rows > 0) filled.push(`${table.name} (${rows} ${rows === 1 ? 'row' : 'rows'})`);
  }
  if (filled.length) {
    throw new CopyRefusedError(
      `the PostgreSQL database is not empty: ${filled.join(', ')}; copy only into a new, empty database (createdb), nothing was changed`,
    );
  }
}

async function countRows(db: AnyDatabase, table: string): Promise<number> {
  const row = (await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) as { n: number | string };
  return Number(row.n);
}

/**
 * Streams the table's rows out of the snapshot (better-sqlite3 iterates, nothing is held in memory
 * beyond one batch) into multi-row INSERTs. Values go over as they are: both schemas keep times as
 * BIGINT, flags as INTEGER and JSON as TEXT (migrations/postgres/0001_init.sql), which take
 * SQLite's numbers and strings unchanged.
 */
async function copyTable(source: AnyDatabase, target: AnyDatabase, table: string, batchRows: number): Promise<number> {
  let batch: Row[] = [];
  let copied = 0;
  const flush = async () => {
    if (!batch.length) return;
    try {
      await target.insertInto(table).values(batch).execute();
    } catch (error) {
      throw new CopyRefusedError(`copying ${table} failed after ${copied} rows, nothing was committed: ${(error as Error).message}`, { cause: error });
    }
    copied += batch.length;
    batch = [];
  };
  for await (const row of source.selectFrom(table).selectAll().stream()) {
    batch.push(row as Row);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
  return copied;
}

/**
 * A serial or identity column's sequence must start past the copied values, or the next insert
 * would collide. Sesame's tables use none today (ids are random text); a later migration may.
 */
async function resetSequences(tx: AnyDatabase, tables: TableMetadata[]): Promise<void> {
  for (const table of tables) {
    for (const column of table.columns.filter((c) => c.isAutoIncrementing)) {
      await sql`SELECT setval(pg_get_serial_sequence(${table.name}, ${column.name}), COALESCE(MAX(${sql.ref(column.name)}), 0) + 1, false) FROM ${sql.table(table.name)}`.execute(tx);
    }
  }
}

/** Every table must hold in the target what the snapshot holds, before anything is committed. */
async function verifyCounts(source: AnyDatabase, target: AnyDatabase, copied: { name: string; rows: number }[]): Promise<void> {
  for (const { name, rows } of copied) {
    const [inSource, inTarget] = [await countRows(source, name), await countRows(target, name)];
    if (inSource !== rows || inTarget !== rows) {
      throw new CopyRefusedError(`row counts differ for ${name} (SQLite ${inSource}, copied ${rows}, PostgreSQL ${inTarget}): rolled back, nothing was committed`);
    }
  }
}

/**
 * Kysely's own SQLite dialect on a read-only better-sqlite3 handle: its transactions are plain
 * (deferred) BEGINs, which in WAL mode read one snapshot without taking the write lock.
 */
function openSqliteReader(file: string): AnyDatabase {
  let handle: BetterSqlite3.Database;
  try {
    handle = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw describeFault(file, error) ?? error;
  }
  return new Kysely({ dialect: new SqliteDialect({ database: handle }) });
}

function mustExist(file: string): void {
  if (file === ':memory:' || !existsSync(file)) {
    throw new CopyRefusedError(`there is no SQLite database at ${file}: point DATABASE_URL at Sesame's database file`);
  }
}

export interface BackupOptions {
  source: SqliteDatabaseConfig;
  /** Where to write the copy (a new file unless `force`). */
  file: string;
  force?: boolean;
}

export interface BackupReport {
  source: string;
  file: string;
  bytes: number;
}

/**
 * A consistent copy of the SQLite database while Sesame runs: SQLite's VACUUM INTO writes one
 * snapshot (a single self-contained file, no -wal beside it) without blocking writers. It writes to
 * a temporary name beside `file` and then links it into place (refusing an existing file, even one
 * created meanwhile) or, with `force`, renames it over the old one, so `file` is never half-written.
 */
export async function backupSqlite(options: BackupOptions): Promise<BackupReport> {
  const { source } = options;
  mustExist(source.file);
  const file = resolve(options.file);
  refuseBackupTarget(source.file, file, options.force ?? false);
  const partial = join(dirname(file), `.${basename(file)}.partial-${randomBytes(6).toString('hex')}`);
  const reader = openSqliteReader(source.file);
  try {
    await sql`VACUUM INTO ${partial}`.execute(reader);
    if (options.force) renameSync(partial, file);
    else placeNew(partial, file);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') throw new CopyRefusedError(`${file} already exists: choose another name, or add --force to replace it`);
    throw describeFault(source.file, error) ?? error;
  } finally {
    await reader.destroy();
    if (existsSync(partial)) unlinkSync(partial);
  }
  return { source: source.file, file, bytes: statSync(file).size };
}

/** `partial` becomes `file` unless `file` exists (EEXIST): a hard link, or a copy where links are not allowed. */
function placeNew(partial: string, file: string): void {
  try {
    linkSync(partial, file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    copyFileSync(partial, file, constants.COPYFILE_EXCL);
  }
}

function refuseBackupTarget(database: string, file: string, force: boolean): void {
  const real = (path: string) => (existsSync(path) ? realpathSync(path) : path);
  const live = real(database);
  if ([live, `${live}-wal`, `${live}-shm`, `${live}-journal`].includes(real(file))) {
    throw new CopyRefusedError(`${file} is the database itself (or its log): write the backup to another file`);
  }
  if (!existsSync(dirname(file))) throw new CopyRefusedError(`the directory ${dirname(file)} does not exist: create it first`);
  if (!force && existsSync(file)) throw new CopyRefusedError(`${file} already exists: choose another name, or add --force to replace it`);
}
