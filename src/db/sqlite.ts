import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Queryable, RunResult, SqlValue } from './database.ts';

/**
 * better-sqlite3 is synchronous, so an async transaction could let another request's statements
 * run inside it between two awaits. One lock serialises transactions, and statements outside a
 * transaction wait for it, so a rollback only ever undoes its own writes.
 */
export class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const;
  readonly raw: BetterSqlite3.Database;
  private lock: Promise<void> = Promise.resolve();
  private locked = false;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(filename: string) {
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    this.raw = new BetterSqlite3(filename);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma('busy_timeout = 5000');
    this.raw.pragma('synchronous = NORMAL');
  }

  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.raw.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private readonly direct: Queryable = {
    get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      this.prepare(sql).get(...params) as T | undefined,
    all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      this.prepare(sql).all(...params) as T[],
    run: async (sql: string, params: readonly SqlValue[] = []): Promise<RunResult> => ({
      changes: this.prepare(sql).run(...params).changes,
    }),
  };

  /** Waits out a running transaction, then runs `op` with no await in between. */
  private async outsideTransaction<T>(op: () => T): Promise<T> {
    while (this.locked) await this.lock;
    return op();
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.outsideTransaction(() => this.prepare(sql).get(...params) as T | undefined);
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.outsideTransaction(() => this.prepare(sql).all(...params) as T[]);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    return this.outsideTransaction(() => ({ changes: this.prepare(sql).run(...params).changes }));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    while (this.locked) await this.lock;
    let release!: () => void;
    this.locked = true;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    try {
      this.raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.raw.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw error;
      }
    } finally {
      this.locked = false;
      release();
    }
  }

  exec(sql: string): Promise<void> {
    return this.outsideTransaction(() => void this.raw.exec(sql));
  }

  close(): Promise<void> {
    return this.outsideTransaction(() => {
      if (this.raw.open) this.raw.close();
    });
  }
}

/** Accepts `sqlite:./path.db`, `sqlite:///abs/path.db`, `sqlite::memory:`. */
export function sqlitePathFromUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported DATABASE_URL "${url}"`);
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  return rest;
}
