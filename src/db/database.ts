/**
 * The storage seam. Every query module talks to this interface only, with `?` placeholders and
 * portable SQL, so a PostgreSQL backend can slot in later behind the same async calls.
 */
export type SqlValue = string | number | bigint | null | Buffer;

export interface RunResult {
  changes: number;
}

export interface Queryable {
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
}

export interface Database extends Queryable {
  /** Runs `fn` atomically: everything it writes lands together or not at all. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script outside any caller transaction (migrations use this). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'sqlite';
}

/**
 * The database cannot serve the request: locked by another program for too long, read-only, full,
 * damaged, failing I/O, or closed. `reason` is a short word for /health and logs; `message` says
 * what happened and what to do; `cause` keeps the driver's error. Callers answer 503, never 500.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isDatabaseUnavailable(error: unknown): error is DatabaseUnavailableError {
  return error instanceof DatabaseUnavailableError;
}
