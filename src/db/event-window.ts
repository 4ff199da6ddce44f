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

export async function countInWindow(
  db: Queryable,
  table: keyof typeof EVENT_LOGS,
  column: 'email' | 'ip',
  value: string,
  since: number,
): Promise<WindowCount> {
  const at = EVENT_LOGS[table];
  const row = await db.get<WindowCount>(
    `SELECT COUNT(*) AS count, MIN(${at}) AS oldest FROM ${table} WHERE ${column} = ? AND ${at} >= ?`,
    [value, since],
  );
  return { count: row?.count ?? 0, oldest: row?.oldest ?? null };
}
