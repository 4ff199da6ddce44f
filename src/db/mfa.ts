import { signInRecordSchema, type SignInRecord } from '../audit/sign-in.ts';
import type { Queryable } from './database.ts';
import { parseStringList } from './json.ts';

/**
 * The second factor's tables (migration 0014): an account's authenticator app (TOTP), its backup
 * codes, and sign-ins waiting between their first and second factor. Each check that uses something
 * up (a TOTP time step, a backup code) is one conditional UPDATE, so two racing requests cannot both
 * succeed with the same code.
 */

export interface TotpRow {
  id: string;
  userId: string;
  secret: string;
  lastStep: number | null;
  createdAt: number;
  confirmedAt: number | null;
}

export async function findTotp(db: Queryable, userId: string): Promise<TotpRow | undefined> {
  const row = await db.selectFrom('mfa_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
  return (
    row && {
      id: row.id,
      userId: row.user_id,
      secret: row.secret,
      lastStep: row.last_step === null ? null : Number(row.last_step),
      createdAt: Number(row.created_at),
      confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at),
    }
  );
}

/**
 * Starts (or restarts) an enrolment with a new secret. A confirmed authenticator is left alone:
 * false then (turning it off first is a separate, deliberate step).
 */
export async function startTotpEnrolment(db: Queryable, row: { id: string; userId: string; secret: string; createdAt: number }): Promise<boolean> {
  const result = await db
    .insertInto('mfa_totp')
    .values({ id: row.id, user_id: row.userId, secret: row.secret, created_at: row.createdAt, last_step: null, confirmed_at: null })
    .onConflict((conflict) =>
      conflict
        .column('user_id')
        .doUpdateSet({ id: row.id, secret: row.secret, created_at: row.createdAt, last_step: null })
        .where('mfa_totp.confirmed_at', 'is', null),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Confirms the enrolment of `secret` (the one shown) with the step of the code typed back; false if it changed meanwhile. */
export async function confirmTotp(db: Queryable, userId: string, secret: string, step: number, at: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_totp')
    .set({ confirmed_at: at, last_step: step })
    .where('user_id', '=', userId)
    .where('secret', '=', secret)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Uses up time step `step`: true only if it is later than the last accepted one (RFC 6238 §5.2: each code once). */
export async function consumeTotpStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_totp')
    .set({ last_step: step })
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is not', null)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Removes the authenticator (confirmed or not); `id`: only if it is that one. */
export async function deleteTotp(db: Queryable, userId: string, id?: string): Promise<boolean> {
  let query = db.deleteFrom('mfa_totp').where('user_id', '=', userId);
  if (id !== undefined) query = query.where('id', '=', id);
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

/** Replaces the account's backup codes with a new set (in the caller's transaction). */
export async function replaceBackupCodes(tx: Queryable, userId: string, set: { setId: string; codes: { id: string; hash: string }[]; at: number }): Promise<void> {
  await tx.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
  await tx
    .insertInto('mfa_backup_codes')
    .values(set.codes.map((code) => ({ id: code.id, user_id: userId, set_id: set.setId, code_hash: code.hash, created_at: set.at, used_at: null })))
    .execute();
}

/** Uses up the backup code with this hash: true when it existed and had not been used. */
export async function consumeBackupCode(db: Queryable, userId: string, hash: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_backup_codes')
    .set({ used_at: at })
    .where('user_id', '=', userId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface BackupCodeSet {
  setId: string;
  createdAt: number;
  total: number;
  left: number;
}

export async function findBackupCodeSet(db: Queryable, userId: string): Promise<BackupCodeSet | undefined> {
  const rows = await db.selectFrom('mfa_backup_codes').select(['set_id', 'created_at', 'used_at']).where('user_id', '=', userId).execute();
  const first = rows[0];
  if (!first) return undefined;
  return { setId: first.set_id, createdAt: Number(first.created_at), total: rows.length, left: rows.filter((row) => row.used_at === null).length };
}

/** Removes the account's backup codes; `setId`: only if they are that set. */
export async function deleteBackupCodes(db: Queryable, userId: string, setId?: string): Promise<boolean> {
  let query = db.deleteFrom('mfa_backup_codes').where('user_id', '=', userId);
  if (setId !== undefined) query = query.where('set_id', '=', setId);
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

/** Every second factor of an account (account deletion, an administrator's reset). */
export async function deleteSecondFactorsOf(tx: Queryable, userId: string): Promise<void> {
  await tx.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
  await tx.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
  await tx.deleteFrom('mfa_pending').where('user_id', '=', userId).execute();
}

export interface PendingSignIn {
  interactionUid: string;
  userId: string;
  amr: string[];
  /** What the sign-in records once the second factor passes (kit.completeSignIn). */
  record: SignInRecord;
  expiresAt: number;
  secondAt: number | null;
}

/** The stored record; a row that does not parse (it cannot, short of an edit by hand) records a plain sign-in. */
function parseSignInRecord(json: string): SignInRecord {
  try {
    return signInRecordSchema.parse(JSON.parse(json));
  } catch {
    return { event: 'SignIn', data: {}, emailVerified: false };
  }
}

/** Records that `interactionUid` passed its first factor as `userId` (a repeat replaces it). */
export async function savePending(
  db: Queryable,
  row: { interactionUid: string; userId: string; amr: string[]; record: SignInRecord; createdAt: number; expiresAt: number },
): Promise<void> {
  const values = {
    user_id: row.userId,
    amr: JSON.stringify(row.amr),
    sign_in: JSON.stringify(row.record),
    created_at: row.createdAt,
    expires_at: row.expiresAt,
    second_at: null,
  };
  await db
    .insertInto('mfa_pending')
    .values({ interaction_uid: row.interactionUid, ...values })
    .onConflict((conflict) => conflict.column('interaction_uid').doUpdateSet(values))
    .execute();
}

export async function findPending(db: Queryable, interactionUid: string, now: number): Promise<PendingSignIn | undefined> {
  const row = await db.selectFrom('mfa_pending').selectAll().where('interaction_uid', '=', interactionUid).where('expires_at', '>', now).executeTakeFirst();
  return (
    row && {
      interactionUid: row.interaction_uid,
      userId: row.user_id,
      amr: parseStringList(row.amr),
      record: parseSignInRecord(row.sign_in),
      expiresAt: Number(row.expires_at),
      secondAt: row.second_at === null ? null : Number(row.second_at),
    }
  );
}

export async function markSecondFactorSetUp(db: Queryable, interactionUid: string, at: number): Promise<void> {
  await db.updateTable('mfa_pending').set({ second_at: at }).where('interaction_uid', '=', interactionUid).execute();
}

/** Ends a pending sign-in; true for the one request that ended it (so it finishes once). */
export async function deletePending(db: Queryable, interactionUid: string): Promise<boolean> {
  return (await db.deleteFrom('mfa_pending').where('interaction_uid', '=', interactionUid).executeTakeFirst()).numDeletedRows > 0n;
}

export async function purgePending(db: Queryable, before: number): Promise<number> {
  return Number((await db.deleteFrom('mfa_pending').where('expires_at', '<=', before).executeTakeFirst()).numDeletedRows);
}
