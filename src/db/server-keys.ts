import type { Queryable } from './database.ts';

export type KeyPurpose = 'signing' | 'cookie' | 'code-hmac';

export interface ServerKey {
  id: string;
  purpose: KeyPurpose;
  material: string;
  createdAt: number;
  retiredAt: number | null;
}

interface ServerKeyRow {
  id: string;
  purpose: KeyPurpose;
  material: string;
  created_at: number;
  retired_at: number | null;
}

const fromRow = (row: ServerKeyRow): ServerKey => ({
  id: row.id,
  purpose: row.purpose,
  material: row.material,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
});

/** Newest first: the first key of a purpose is the one in use, the rest still verify. */
export async function listServerKeys(db: Queryable, purpose: KeyPurpose): Promise<ServerKey[]> {
  const rows = await db.all<ServerKeyRow>(
    'SELECT id, purpose, material, created_at, retired_at FROM server_keys WHERE purpose = ? ORDER BY created_at DESC, id DESC',
    [purpose],
  );
  return rows.map(fromRow);
}

export async function insertServerKey(db: Queryable, key: ServerKey): Promise<void> {
  await db.run('INSERT INTO server_keys (id, purpose, material, created_at, retired_at) VALUES (?, ?, ?, ?, ?)', [
    key.id,
    key.purpose,
    key.material,
    key.createdAt,
    key.retiredAt,
  ]);
}

export async function retireServerKeys(db: Queryable, purpose: KeyPurpose, at: number): Promise<void> {
  await db.run('UPDATE server_keys SET retired_at = ? WHERE purpose = ? AND retired_at IS NULL', [at, purpose]);
}

export async function deleteServerKeysRetiredBefore(db: Queryable, purpose: KeyPurpose, before: number): Promise<number> {
  return (await db.run('DELETE FROM server_keys WHERE purpose = ? AND retired_at IS NOT NULL AND retired_at < ?', [purpose, before]))
    .changes;
}

/** Changes whenever a signing key is added or removed: the IDs of all of them, in a stable order. */
export async function signingKeyFingerprint(db: Queryable): Promise<string> {
  const row = await db.get<{ ids: string | null }>(
    "SELECT group_concat(id, ',') AS ids FROM (SELECT id FROM server_keys WHERE purpose = 'signing' ORDER BY id)",
  );
  return row?.ids ?? '';
}
