import type { Database } from '../db/database.ts';
import { deleteBackupCodes, deleteSecondFactorsOf, deleteTotp, findBackupCodeSet, findTotp } from '../db/mfa.ts';
import { findPasskey, listPasskeys } from '../db/passkeys.ts';
import { removeUserPasskey } from '../management/passkeys.ts';
import { findUserById } from '../db/users.ts';
import { auditChange, type ManagementActor } from '../management/audit.ts';
import { NotFoundError } from '../management/errors.ts';

/**
 * An account's second factors as an administrator sees them, in the shape of Logto's
 * /api/users/{userId}/mfa-verifications: the authenticator app (Totp), the backup codes (BackupCode,
 * with how many are left) and the passkeys (WebAuthn, src/db/passkeys.ts). Never a secret or a code.
 */
export type MfaVerification =
  | { id: string; type: 'Totp'; createdAt: number }
  | { id: string; type: 'BackupCode'; createdAt: number; remainCodes: number }
  | { id: string; type: 'WebAuthn'; createdAt: number; name: string; lastUsedAt: number | null };

async function requireUser(db: Database, userId: string) {
  const user = await findUserById(db, userId);
  if (!user) throw new NotFoundError('user', userId);
  return user;
}

export async function listMfaVerifications(db: Database, userId: string): Promise<MfaVerification[]> {
  await requireUser(db, userId);
  const [totp, backup, passkeys] = await Promise.all([findTotp(db, userId), findBackupCodeSet(db, userId), listPasskeys(db, userId)]);
  return [
    // An enrolment nobody confirmed is not a second factor.
    ...(totp?.confirmedAt != null ? [{ id: totp.id, type: 'Totp' as const, createdAt: totp.confirmedAt }] : []),
    ...(backup ? [{ id: backup.setId, type: 'BackupCode' as const, createdAt: backup.createdAt, remainCodes: backup.left }] : []),
    ...passkeys.map((passkey) => ({ id: passkey.id, type: 'WebAuthn' as const, createdAt: passkey.createdAt, name: passkey.name, lastUsedAt: passkey.lastUsedAt })),
  ];
}

/**
 * Removes one second factor, recorded in the audit log with who did it. Removing the authenticator
 * removes the backup codes with it (they are its fallback, not a factor of their own).
 */
export async function deleteMfaVerification(db: Database, userId: string, verificationId: string, who: ManagementActor): Promise<void> {
  await requireUser(db, userId);
  // A passkey goes the way every passkey removal goes (and is audited as one: Management.User.Passkey.Delete).
  if (await findPasskey(db, userId, verificationId)) return removeUserPasskey(db, userId, verificationId, who);
  await db.transaction().execute(async (tx) => {
    const totp = await findTotp(tx, userId);
    if (totp && totp.id === verificationId) {
      await deleteTotp(tx, userId, verificationId);
      await deleteBackupCodes(tx, userId);
      await auditChange(tx, who, 'User.MfaVerification.Delete', { userId }, { type: 'Totp', verificationId });
      return;
    }
    if (await deleteBackupCodes(tx, userId, verificationId)) {
      await auditChange(tx, who, 'User.MfaVerification.Delete', { userId }, { type: 'BackupCode', verificationId });
      return;
    }
    throw new NotFoundError('MFA verification', verificationId);
  });
}

/**
 * `sesame user reset-mfa`: the authenticator app and backup codes go (passkeys stay: they are a way
 * in, and are removed one by one). The person sets a new authenticator up at their next sign-in
 * when the experience requires one. Returns whether there was anything to remove.
 */
export async function resetSecondFactor(db: Database, userId: string, who: ManagementActor): Promise<boolean> {
  await requireUser(db, userId);
  return db.transaction().execute(async (tx) => {
    const had = (await findTotp(tx, userId)) !== undefined || (await findBackupCodeSet(tx, userId)) !== undefined;
    await deleteSecondFactorsOf(tx, userId);
    await auditChange(tx, who, 'User.MfaVerification.Reset', { userId }, { removed: had });
    return had;
  });
}
