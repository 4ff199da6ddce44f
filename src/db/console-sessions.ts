import type { Queryable } from './database.ts';
import { parseObject } from './json.ts';

/** One admin console session row (see src/console/session.ts for what the times mean). */
export interface ConsoleSessionRow {
  id: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export async function insertConsoleSession(db: Queryable, row: ConsoleSessionRow): Promise<void> {
  await db
    .insertInto('console_sessions')
    .values({
      id: row.id,
      user_id: row.userId,
      data: JSON.stringify(row.data),
      created_at: row.createdAt,
      last_seen_at: row.lastSeenAt,
      expires_at: row.expiresAt,
    })
    .execute();
}

export async function findConsoleSession(db: Queryable, id: string): Promise<ConsoleSessionRow | undefined> {
  const row = await db.selectFrom('console_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return (
    row && {
      id: row.id,
      userId: row.user_id,
      data: parseObject(row.data),
      createdAt: Number(row.created_at),
      lastSeenAt: Number(row.last_seen_at),
      expiresAt: Number(row.expires_at),
    }
  );
}

/** Writes `data` and/or `lastSeenAt`; false when the session is gone (signed out elsewhere). */
export async function updateConsoleSession(db: Queryable, id: string, changes: { data?: Record<string, unknown>; lastSeenAt?: number }): Promise<boolean> {
  const result = await db
    .updateTable('console_sessions')
    .set({
      ...(changes.data !== undefined && { data: JSON.stringify(changes.data) }),
      ...(changes.lastSeenAt !== undefined && { last_seen_at: changes.lastSeenAt }),
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Every console session of an account: its admin role removed, its sessions revoked, suspended. */
export async function deleteConsoleSessionsOf(db: Queryable, userId: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('user_id', '=', userId).execute();
}

export async function deleteConsoleSession(db: Queryable, id: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('id', '=', id).execute();
}

/** Removes sessions past their absolute end or idle since `idleBefore`; returns how many. */
export async function purgeConsoleSessions(db: Queryable, now: number, idleBefore: number): Promise<number> {
  const result = await db
    .deleteFrom('console_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
