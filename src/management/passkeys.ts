import type { Database } from '../db/database.ts';
import { deletePasskey, findPasskey, listPasskeys, type Passkey } from '../db/passkeys.ts';
import { findUserById } from '../db/users.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { NotFoundError } from './errors.ts';

/**
 * An account's passkeys as an operator sees them (GET/DELETE /api/users/{userId}/passkeys): listed,
 * and removed (a lost device, a person locked out of the account page), each removal audit-logged.
 */
export async function listUserPasskeys(db: Database, userId: string): Promise<Passkey[]> {
  if (!(await findUserById(db, userId))) throw new NotFoundError('user', userId);
  return listPasskeys(db, userId);
}

export async function removeUserPasskey(db: Database, userId: string, id: string, who: ManagementActor): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (!(await findUserById(tx, userId))) throw new NotFoundError('user', userId);
    const passkey = await findPasskey(tx, userId, id);
    if (!passkey || !(await deletePasskey(tx, userId, id))) throw new NotFoundError('passkey', id);
    await auditChange(tx, who, 'User.Passkey.Delete', { userId }, { passkeyId: passkey.id, passkeyName: passkey.name });
  });
}
