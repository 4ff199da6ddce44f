import type { Queryable } from './database.ts';
import { parseObject } from './json.ts';

/**
 * The first-party pages' own sessions, stored alike: the admin console's (console_sessions, see
 * src/console/session.ts) and the account page's (account_sessions, see src/account/session.ts).
 * `sessionQueries(table)` gives the queries on one of the two tables.
 */
export type FirstPartySessionTable = 'console_sessions' | 'account_sessions';

/** One session row (the session module of each page says what the times mean). */
export interface FirstPartySessionRow {
  id: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export function sessionQueries(table: FirstPartySessionTable) {
  return {
    async insert(db: Queryable, row: FirstPartySessionRow): Promise<void> {
      await db
        .insertInto(table)
        .values({
          id: row.id,
          user_id: row.userId,
          data: JSON.stringify(row.data),
          created_at: row.createdAt,
          last_seen_at: row.lastSeenAt,
          expires_at: row.expiresAt,
        })
        .execute();
    },

    async find(db: Queryable, id: string): Promise<FirstPartySessionRow | undefined> {
      const row = await db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
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
    },

    /** Writes `data` and/or `lastSeenAt`; false when the session is gone (signed out elsewhere). */
    async update(db: Queryable, id: string, changes: { data?: Record<string, unknown>; lastSeenAt?: number }): Promise<boolean> {
      const result = await db
        .updateTable(table)
        .set({
          ...(changes.data !== undefined && { data: JSON.stringify(changes.data) }),
          ...(changes.lastSeenAt !== undefined && { last_seen_at: changes.lastSeenAt }),
        })
        .where('id', '=', id)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /** Every session of an account. */
    async deleteOf(db: Queryable, userId: string): Promise<void> {
      await db.deleteFrom(table).where('user_id', '=', userId).execute();
    },

    async delete(db: Queryable, id: string): Promise<void> {
      await db.deleteFrom(table).where('id', '=', id).execute();
    },

    /** Removes sessions past their absolute end or idle since `idleBefore`; returns how many. */
    async purge(db: Queryable, now: number, idleBefore: number): Promise<number> {
      const result = await db
        .deleteFrom(table)
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
