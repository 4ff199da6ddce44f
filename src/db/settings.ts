import type { Queryable } from './database.ts';

export async function readSetting<T>(db: Queryable, key: string): Promise<{ value: T; updatedAt: number } | undefined> {
  const row = await db.get<{ value: string; updated_at: number }>('SELECT value, updated_at FROM settings WHERE key = ?', [key]);
  return row && { value: JSON.parse(row.value) as T, updatedAt: row.updated_at };
}

export async function writeSetting(db: Queryable, key: string, value: unknown, at: number): Promise<void> {
  await db.run(
    `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    [key, JSON.stringify(value), at],
  );
}

export async function deleteSetting(db: Queryable, key: string): Promise<boolean> {
  return (await db.run('DELETE FROM settings WHERE key = ?', [key])).changes > 0;
}

/** The stored JSON text as is, for callers that cache on it. */
export async function readSettingText(db: Queryable, key: string): Promise<string | undefined> {
  return (await db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]))?.value;
}
