import type { Queryable } from './database.ts';
import { parseObject } from './json.ts';

/** One account page session row (see src/account/session.ts for what the times mean). */
export interface AccountSessionRow {
  id: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export async function insertAccountSession(db: Queryable, row: AccountSessionRow): Promise<void> {
  await db
    .insertInto('account_sessions')
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

export async function findAccountSession(db: Queryable, id: string): Promise<AccountSessionRow | undefined> {
  const row = await db.selectFrom('account_sessions').selectAll().where('id', '=', id).executeTakeFirst();
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
export async function updateAccountSession(db: Queryable, id: string, changes: { data?: Record<string, unknown>; lastSeenAt?: number }): Promise<boolean> {
  const result = await db
    .updateTable('account_sessions')
    .set({
      ...(changes.data !== undefined && { data: JSON.stringify(changes.data) }),
      ...(changes.lastSeenAt !== undefined && { last_seen_at: changes.lastSeenAt }),
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Every account page session of an account (its sessions revoked, the account suspended). */
export async function deleteAccountSessionsOf(db: Queryable, userId: string): Promise<void> {
  await db.deleteFrom('account_sessions').where('user_id', '=', userId).execute();
}

export async function deleteAccountSession(db: Queryable, id: string): Promise<void> {
  await db.deleteFrom('account_sessions').where('id', '=', id).execute();
}

/** Removes sessions past their absolute end or idle since `idleBefore`; returns how many. */
export async function purgeAccountSessions(db: Queryable, now: number, idleBefore: number): Promise<number> {
  const result = await db
    .deleteFrom('account_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
