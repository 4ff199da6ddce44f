import type { Queryable } from './database.ts';
import { parseStringList } from './json.ts';

/** One passkey (WebAuthn credential) of an account. See migrations/*\/0013_passkeys.sql. */
export interface Passkey {
  id: string;
  userId: string;
  /** The authenticator's credential ID, base64url. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** 'multiDevice': backup eligible (a synced passkey); fixed for the credential's life. */
  deviceType: 'singleDevice' | 'multiDevice';
  /** The backup-state flag as last seen. */
  backedUp: boolean;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

type Row = {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number | string;
  transports: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: number;
  name: string;
  created_at: number | string;
  last_used_at: number | string | null;
};

const fromRow = (row: Row): Passkey => ({
  id: row.id,
  userId: row.user_id,
  credentialId: row.credential_id,
  publicKey: row.public_key,
  counter: Number(row.counter),
  transports: parseStringList(row.transports),
  deviceType: row.device_type,
  backedUp: Boolean(row.backed_up),
  name: row.name,
  createdAt: Number(row.created_at),
  lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
});

export async function insertPasskey(db: Queryable, passkey: Passkey): Promise<void> {
  await db
    .insertInto('passkeys')
    .values({
      id: passkey.id,
      user_id: passkey.userId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: JSON.stringify(passkey.transports),
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp ? 1 : 0,
      name: passkey.name,
      created_at: passkey.createdAt,
      last_used_at: passkey.lastUsedAt,
    })
    .execute();
}

/** An account's passkeys, oldest first. */
export async function listPasskeys(db: Queryable, userId: string): Promise<Passkey[]> {
  const rows = await db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

export async function countPasskeys(db: Queryable, userId: string): Promise<number> {
  const row = await db.selectFrom('passkeys').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** One passkey of one account (undefined when it belongs to someone else). */
export async function findPasskey(db: Queryable, userId: string, id: string): Promise<Passkey | undefined> {
  const row = await db.selectFrom('passkeys').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return row && fromRow(row);
}

export async function findPasskeyByCredentialId(db: Queryable, credentialId: string): Promise<Passkey | undefined> {
  const row = await db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  return row && fromRow(row);
}

export async function renamePasskey(db: Queryable, userId: string, id: string, name: string): Promise<boolean> {
  const result = await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deletePasskey(db: Queryable, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Records a verified assertion: the new counter, the backup state and when. Conditional on the
 * counter read before verifying, so two assertions checked at once against the same stored counter
 * cannot both pass (the second finds the row changed and is refused as a replay or a clone).
 */
export async function recordPasskeyUse(
  db: Queryable,
  id: string,
  use: { expectedCounter: number; newCounter: number; backedUp: boolean; at: number },
): Promise<boolean> {
  const result = await db
    .updateTable('passkeys')
    .set({ counter: use.newCounter, backed_up: use.backedUp ? 1 : 0, last_used_at: use.at })
    .where('id', '=', id)
    .where('counter', '=', use.expectedCounter)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

// Challenges (webauthn_challenges): single use, one live per binding.

/** Stores `challenge` for `binding`, replacing one still waiting there. */
export async function putChallenge(db: Queryable, row: { id: string; challenge: string; userId: string | null; expiresAt: number }): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('webauthn_challenges').where('id', '=', row.id).execute();
    await tx.insertInto('webauthn_challenges').values({ id: row.id, challenge: row.challenge, user_id: row.userId, expires_at: row.expiresAt }).execute();
  });
}

/**
 * Takes the challenge of `binding` (deletes it and returns it, in one statement: of two requests
 * racing for it, one gets it); undefined when there is none or it expired.
 */
export async function takeChallenge(db: Queryable, id: string, now: number): Promise<{ challenge: string; userId: string | null } | undefined> {
  const row = await db.deleteFrom('webauthn_challenges').where('id', '=', id).returning(['challenge', 'user_id', 'expires_at']).executeTakeFirst();
  if (!row || Number(row.expires_at) <= now) return undefined;
  return { challenge: row.challenge, userId: row.user_id };
}

export async function purgeChallenges(db: Queryable, now: number): Promise<number> {
  const result = await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
