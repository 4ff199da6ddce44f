import type { Queryable } from './database.ts';

/** Replaces a user's custom_data (served as the `custom_data` claim); false when no such user. */
export async function replaceUserCustomData(db: Queryable, id: string, customData: Record<string, unknown>, now: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ custom_data: JSON.stringify(customData), updated_at: now })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
