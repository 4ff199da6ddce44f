import type { Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import type { ServerKeysTable } from './schema.ts';

export type KeyPurpose = ServerKeysTable['purpose'];

export interface ServerKey {
  id: string;
  purpose: KeyPurpose;
  material: string;
  createdAt: number;
  retiredAt: number | null;
}

const fromRow = (row: Selectable<ServerKeysTable>): ServerKey => ({
  id: row.id,
  purpose: row.purpose,
  material: row.material,
  createdAt: Number(row.created_at),
  retiredAt: row.retired_at === null ? null : Number(row.retired_at),
});

/** Newest first: the first key of a purpose is the one in use, the rest still verify. */
export async function listServerKeys(db: Queryable, purpose: KeyPurpose): Promise<ServerKey[]> {
  const rows = await db
    .selectFrom('server_keys')
    .select(['id', 'purpose', 'material', 'created_at', 'retired_at'])
    .where('purpose', '=', purpose)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(fromRow);
}

export async function insertServerKey(db: Queryable, key: ServerKey): Promise<void> {
  await db
    .insertInto('server_keys')
    .values({ id: key.id, purpose: key.purpose, material: key.material, created_at: key.createdAt, retired_at: key.retiredAt })
    .execute();
}

export async function retireServerKeys(db: Queryable, purpose: KeyPurpose, at: number): Promise<void> {
  await db.updateTable('server_keys').set({ retired_at: at }).where('purpose', '=', purpose).where('retired_at', 'is', null).execute();
}

export async function deleteServerKeysRetiredBefore(db: Queryable, purpose: KeyPurpose, before: number): Promise<number> {
  const result = await db
    .deleteFrom('server_keys')
    .where('purpose', '=', purpose)
    .where('retired_at', 'is not', null)
    .where('retired_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Every key of every purpose, newest first. */
export async function listAllServerKeys(db: Queryable): Promise<ServerKey[]> {
  const rows = await db
    .selectFrom('server_keys')
    .select(['id', 'purpose', 'material', 'created_at', 'retired_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(fromRow);
}

/**
 * Changes whenever a key of any purpose is added, retired or removed: each key's ID and retirement,
 * in a stable order. Every instance reads it once a second (src/oidc/key-ring.ts): a few short rows.
 */
export async function serverKeysFingerprint(db: Queryable): Promise<string> {
  const { rows } = await keyStates(db, {});
  return rows.map((row) => `${row.id}:${row.retired_at ?? ''}`).join(',');
}

const keyStates = prepared((db) => db.selectFrom('server_keys').select(['id', 'retired_at']).orderBy('id'));
