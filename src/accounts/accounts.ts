import type { Database } from '../db/database.ts';
import { findUserByEmail, insertUser, markSignedIn, type User } from '../db/users.ts';
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
  return db.transaction(async (tx) => {
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
