import type { Queryable } from './database.ts';

/** Replaces a user's custom_data (served as the `custom_data` claim); false when no such user. */
export async function replaceUserCustomData(db: Queryable, id: string, customData: Record<string, unknown>, now: number): Promise<boolean> {
  const result = await db.run('UPDATE users SET custom_data = ?, updated_at = ? WHERE id = ?', [JSON.stringify(customData), now, id]);
  return result.changes > 0;
}
