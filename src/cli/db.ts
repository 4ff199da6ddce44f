import { resolve } from 'node:path';
import { parse, quote, UsageError, type Handler } from './command.ts';
import type { Config, PostgresDatabaseConfig, SqliteDatabaseConfig } from '../config/index.ts';
import { databaseConfig, redactDatabaseUrl } from '../config/database.ts';
import { backupSqlite, copySqliteToPostgres, CopyRefusedError, TargetUnavailableError, type CopyReport } from '../db/copy.ts';

export const DB_HELP = `Database
  db copy --to postgres://USER:PASSWORD@HOST:5432/DB [--json]
                                        copy this SQLite database into an empty PostgreSQL database
                                        (one transaction, row counts checked); then point DATABASE_URL at it
  db backup FILE [--force]              write a consistent copy of the SQLite database while Sesame runs`;

/** The configured database as a copy's source: only a SQLite file can be copied or backed up this way. */
function sqliteSource(config: Readonly<Config>, command: string, hint: string): SqliteDatabaseConfig {
  if (config.database.kind === 'sqlite') return config.database;
  throw new CopyRefusedError(`\`sesame ${command}\` works on a SQLite database, and DATABASE_URL is PostgreSQL (${config.database.safeUrl}): ${hint}`);
}

/**
 * --to parsed as DATABASE_URL is (same rules, same messages, naming --to). Its own query sets TLS
 * (sslmode, sslrootcert); the DATABASE_* variables belong to DATABASE_URL, which is SQLite here.
 */
function targetConfig(url: string): PostgresDatabaseConfig {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new UsageError(`--to must be a PostgreSQL URL such as postgres://sesame:secret@db.example.com:5432/sesame, got ${quote(redactDatabaseUrl(url))}`);
  }
  const problems: string[] = [];
  const config = databaseConfig(url, {}, problems);
  if (!config || config.kind !== 'postgres') throw new UsageError(problems.map((problem) => problem.replaceAll('DATABASE_URL', '--to')).join('; '));
  return config;
}

function printCopy(report: CopyReport, out: (line: string) => void): void {
  const total = report.tables.reduce((sum, table) => sum + table.rows, 0);
  out(`Copied ${report.source} into ${report.target} in one transaction: ${total} rows in ${report.tables.length} tables, row counts checked.`);
  const width = Math.max(...report.tables.map((table) => table.name.length));
  for (const table of report.tables) out(`  ${table.name.padEnd(width)}  ${table.rows}`);
  if (report.skipped.length) out(`Not copied (kept by each database itself): ${report.skipped.join(', ')}.`);
  out('Expired rows were copied as they are; Sesame purges them.');
  const password = report.target.includes(':***@') ? ' (your password in place of ***)' : '';
  out(`Next: stop Sesame on SQLite if it still runs, then start it with DATABASE_URL=${report.target}${password}.`);
}

export const dbCommands: Record<string, Handler> = {
  async 'db copy'(args, { config, io }) {
    const { values } = parse(args, { to: { type: 'string' }, json: { type: 'boolean' } });
    if (values.to === undefined) throw new UsageError('--to is required: the PostgreSQL database to copy into, postgres://USER:PASSWORD@HOST:5432/DB');
    const target = targetConfig(values.to);
    const source = sqliteSource(config, 'db copy', 'set DATABASE_URL to the SQLite database to copy from (sqlite:./data/sesame.db)');
    const migrations = { sqlite: resolve(config.paths.root, 'migrations', 'sqlite'), postgres: resolve(config.paths.root, 'migrations', 'postgres') };
    const report = await copySqliteToPostgres({ source, target, migrations }).catch((error: unknown) => {
      // The start-up line says what to fix "in DATABASE_URL"; here the URL came from --to.
      if (error instanceof TargetUnavailableError) throw new TargetUnavailableError(error.message.replaceAll('DATABASE_URL', '--to'));
      throw error;
    });
    if (values.json) io.out(JSON.stringify({ ...report, tables: Object.fromEntries(report.tables.map((table) => [table.name, table.rows])) }));
    else printCopy(report, io.out);
    return 0;
  },

  async 'db backup'(args, { config, io }) {
    const { values, positionals } = parse(args, { force: { type: 'boolean' } }, true);
    const [file] = positionals;
    if (!file || positionals.length !== 1) throw new UsageError('usage: sesame db backup FILE [--force]');
    const source = sqliteSource(config, 'db backup', 'back PostgreSQL up with pg_dump (pg_dump -Fc -d DATABASE_URL -f sesame.dump)');
    const report = await backupSqlite({ source, file, force: values.force ?? false });
    io.out(`Wrote ${report.file} (${report.bytes} bytes): a consistent copy of ${report.source}.`);
    return 0;
  },
};
