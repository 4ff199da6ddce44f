import type { Queryable } from './database.ts';

/** Tables that log timed events per address and per IP, for sliding-window limits. */
const EVENT_LOGS = {
  verification_sends: 'sent_at',
  sign_in_failures: 'failed_at',
} as const;

export interface WindowCount {
  count: number;
  /** The oldest event in the window: when it leaves, the window frees up. */
  oldest: number | null;
}

/** Whose events to count: one address, one IP, or one address from one IP (a pair). */
export type EventSubject = { email: string; ip?: undefined } | { ip: string; email?: undefined } | { email: string; ip: string };

export async function countInWindow(
  db: Queryable,
  table: keyof typeof EVENT_LOGS,
  subject: EventSubject,
  since: number,
): Promise<WindowCount> {
  const at = EVENT_LOGS[table];
  const columns = (['email', 'ip'] as const).filter((column) => subject[column] !== undefined);
  const where = columns.map((column) => `${column} = ?`).join(' AND ');
  const row = await db.get<WindowCount>(`SELECT COUNT(*) AS count, MIN(${at}) AS oldest FROM ${table} WHERE ${where} AND ${at} >= ?`, [
    ...columns.map((column) => subject[column] as string),
    since,
  ]);
  return { count: row?.count ?? 0, oldest: row?.oldest ?? null };
}
