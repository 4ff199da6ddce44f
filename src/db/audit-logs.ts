import type { Insertable, Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import type { AuditLogsTable } from './schema.ts';

export type AuditLogRow = Selectable<AuditLogsTable>;
export type NewAuditLogRow = Omit<Insertable<AuditLogsTable>, 'seq'>;

/** What listAuditLogRows filters on; every field optional. `typePrefix` matches `type` starting with it. */
export interface AuditLogFilter {
  userId?: string;
  applicationId?: string;
  type?: string;
  typePrefix?: string;
  /** Inclusive, epoch ms. */
  from?: number;
  /** Exclusive, epoch ms. */
  to?: number;
}

const COLUMNS = ['seq', 'id', 'type', 'result', 'user_id', 'application_id', 'actor', 'ip', 'user_agent', 'data', 'created_at'] as const;

/** One statement, compiled once: it runs for every code sent and every sign-in. */
const insert = prepared((db, p: NewAuditLogRow) =>
  db.insertInto('audit_logs').values({
    id: p.id,
    type: p.type,
    result: p.result,
    user_id: p.user_id,
    application_id: p.application_id,
    actor: p.actor,
    ip: p.ip,
    user_agent: p.user_agent,
    data: p.data,
    created_at: p.created_at,
  }),
  // A fresh random id, no foreign keys: it never waits for another transaction (see PreparedOptions).
  { lockFree: true },
);

export async function insertAuditLog(db: Queryable, row: NewAuditLogRow): Promise<void> {
  await insert(db, row);
}

function filtered(db: Queryable, filter: AuditLogFilter) {
  let query = db.selectFrom('audit_logs');
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.applicationId !== undefined) query = query.where('application_id', '=', filter.applicationId);
  if (filter.type !== undefined) query = query.where('type', '=', filter.type);
  if (filter.typePrefix !== undefined) {
    // A range rather than LIKE: it uses the (type, ...) index on both engines (byte order, see
    // migrations/postgres/0001), and `%`/`_` in the prefix mean nothing. The upper bound is the prefix
    // with its last character moved on by one, which no string that starts with the prefix reaches.
    const prefix = filter.typePrefix;
    const upper = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    query = query.where('type', '>=', prefix).where('type', '<', upper);
  }
  if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
  return query;
}

/** Newest first (the write order breaks ties within a millisecond). */
export async function listAuditLogRows(db: Queryable, filter: AuditLogFilter, limit: number, offset: number): Promise<AuditLogRow[]> {
  return filtered(db, filter).select(COLUMNS).orderBy('created_at', 'desc').orderBy('seq', 'desc').limit(limit).offset(offset).execute();
}

export async function countAuditLogRows(db: Queryable, filter: AuditLogFilter): Promise<number> {
  const row = await filtered(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findAuditLogRow(db: Queryable, id: string): Promise<AuditLogRow | undefined> {
  return db.selectFrom('audit_logs').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

/**
 * Deletes up to `limit` rows written before `before`, oldest first; returns how many. The purge
 * calls it in a loop, so no single statement holds the write lock (SQLite) or a long transaction
 * (PostgreSQL) for a large backlog, such as the first purge after the retention was shortened.
 */
export async function deleteAuditLogsBefore(db: Queryable, before: number, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('audit_logs')
    .where('seq', 'in', (eb) => eb.selectFrom('audit_logs').select('seq').where('created_at', '<', before).orderBy('created_at').limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
