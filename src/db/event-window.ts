import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';

/**
 * Tables that log timed events per address and per IP, for sliding-window limits (the send caps read
 * verification_sends in one statement of their own: countSendsForCaps in verification.ts).
 */
const EVENT_LOGS = {
  sign_in_failures: 'failed_at',
} as const;

export interface WindowCount {
  count: number;
  /** The oldest event in the window: when it leaves, the window frees up. */
  oldest: number | null;
}

/** Whose events to count: one address, one IP, or one address from one IP (a pair). */
export type EventSubject = { email: string; ip?: undefined } | { ip: string; email?: undefined } | { email: string; ip: string };

/** One prepared query per table and subject shape (address, IP, or both). */
const queries = new Map<string, ReturnType<typeof windowQuery>>();

function windowQuery(table: keyof typeof EVENT_LOGS, byEmail: boolean, byIp: boolean) {
  const at = EVENT_LOGS[table];
  return prepared((db, p: { email: string; ip: string; since: number }) =>
    db
      .selectFrom(table)
      .select((eb) => [eb.fn.countAll().as('count'), eb.fn.min(at).as('oldest')])
      .where((eb) => eb.and([...(byEmail ? [eb('email', '=', p.email)] : []), ...(byIp ? [eb('ip', '=', p.ip)] : []), eb(at, '>=', p.since)])),
  );
}

export async function countInWindow(
  db: Queryable,
  table: keyof typeof EVENT_LOGS,
  subject: EventSubject,
  since: number,
): Promise<WindowCount> {
  const shape = `${table} ${subject.email === undefined ? '' : 'email'} ${subject.ip === undefined ? '' : 'ip'}`;
  let query = queries.get(shape);
  if (!query) {
    query = windowQuery(table, subject.email !== undefined, subject.ip !== undefined);
    queries.set(shape, query);
  }
  const [row] = (await query(db, { email: subject.email ?? '', ip: subject.ip ?? '', since })).rows;
  // COUNT and MIN of a BIGINT come back as numbers from SQLite and as strings from PostgreSQL.
  return { count: Number(row?.count ?? 0), oldest: row?.oldest == null ? null : Number(row.oldest) };
}
