import type { Database } from '../db/database.ts';
import { deleteUserRow, findUserByEmail, findUserById, insertUser, markSignedIn, type User } from '../db/users.ts';
import { destroyModelsByAccountId } from '../db/oidc-models.ts';
import { clearFailures, deleteLocksOf } from '../db/lockout.ts';
import { normalizeEmail } from './email.ts';
import { randomId } from '../lib/random.ts';

export interface SignInOutcome {
  user: User;
  created: boolean;
}

/**
 * The code proved the person controls `email`: sign in the account that owns it, or create one
 * (sign-up). Both happen in one transaction so a failed step leaves no half-made account.
 */
export async function signInVerifiedEmail(
  db: Database,
  email: string,
  options: { allowSignUp: boolean; now: number; passwordHash?: string },
): Promise<SignInOutcome | undefined> {
  return db.transaction().execute(async (tx) => {
    const existing = await findUserByEmail(tx, email);
    if (existing) {
      await markSignedIn(tx, existing.id, options.now, true);
      return { user: { ...existing, emailVerified: true, lastSignInAt: options.now }, created: false };
    }
    if (!options.allowSignUp) return undefined;
    const user: User = {
      id: randomId(12),
      email,
      emailVerified: true,
      name: null,
      username: null,
      passwordHash: options.passwordHash ?? null,
      customData: {},
      createdAt: options.now,
      updatedAt: options.now,
      lastSignInAt: options.now,
    };
    await insertUser(tx, user);
    return { user, created: true };
  });
}

/** For operators: an account by its ID (sub) or its email address. */
export async function findUserByIdOrEmail(db: Database, who: string): Promise<User | undefined> {
  const byId = await findUserById(db, who);
  if (byId || !who.includes('@')) return byId;
  const email = normalizeEmail(who);
  return email.ok ? findUserByEmail(db, email.email) : undefined;
}

/** Removes an account with every session, grant and token it holds, all or nothing. */
export async function deleteAccount(db: Database, user: User): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await destroyModelsByAccountId(tx, user.id);
    await clearFailures(tx, user.email);
    await deleteLocksOf(tx, user.email);
    await deleteUserRow(tx, user.id);
  });
}
