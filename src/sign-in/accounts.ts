import { isUniqueViolation, type Database } from '../db/database.ts';
import { deleteSecondFactorsOf } from '../db/mfa.ts';
import { deleteUserRow, findUserByEmail, findUserById, insertUser, markSignedIn, type User } from '../db/users.ts';
import { destroyModelsByAccountId } from '../db/oidc-models.ts';
import { deleteConsoleSessionsOf } from '../db/console-sessions.ts';
import { clearFailures, deleteLocksOf } from '../db/lockout.ts';
import { normalizeEmail } from './email.ts';
import { randomId } from '../lib/random.ts';
import { recordSignIn, type SignInAudit } from '../audit/sign-in.ts';
import { writeAhead } from '../db/write-ahead.ts';

export interface SignInOutcome {
  user: User;
  created: boolean;
}

export interface VerifiedEmailOptions {
  allowSignUp: boolean;
  now: number;
  passwordHash?: string;
  audit?: SignInAudit;
  /** The account the caller has just looked up for the address (`user` undefined: none), so it is not read twice. */
  lookedUp?: { user: User | undefined };
}

/**
 * The code proved the person controls `email`: sign in the account that owns it, or create one
 * (sign-up). Both happen in one transaction so a failed step leaves no half-made account; with
 * `audit`, the sign-in or sign-up record is written in it too.
 */
export async function signInVerifiedEmail(db: Database, email: string, options: VerifiedEmailOptions): Promise<SignInOutcome | undefined> {
  try {
    return await signInOrSignUp(db, email, options, options.lookedUp);
  } catch (error) {
    // An account `lookedUp` did not see was created meanwhile (the same address signing up in another
    // tab): the insert failed on the unique address and changed nothing. Once more, reading it.
    if (!options.lookedUp || !isUniqueViolation(error)) throw error;
    return signInOrSignUp(db, email, options, undefined);
  }
}

async function signInOrSignUp(
  db: Database,
  email: string,
  options: VerifiedEmailOptions,
  lookedUp: { user: User | undefined } | undefined,
): Promise<SignInOutcome | undefined> {
  return db.transaction().execute(async (tx) => {
    // An account deleted since it was looked up: the update changes nothing, and the sign-in ends as
    // it would had the deletion come a moment later (oidc-provider finds no account).
    const existing = lookedUp ? lookedUp.user : await findUserByEmail(tx, email);
    if (existing) {
      // The transaction ends with these writes and reads nothing back: on PostgreSQL they go out with the COMMIT.
      await writeAhead(tx, async () => {
        await markSignedIn(tx, existing.id, options.now, true);
        if (options.audit) await recordSignIn(tx, options.audit, existing, false);
      });
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
    // A unique violation (the address taken meanwhile) then surfaces at the commit, as the same error.
    await writeAhead(tx, async () => {
      await insertUser(tx, user);
      if (options.audit) await recordSignIn(tx, options.audit, user, true);
    });
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
    await deleteConsoleSessionsOf(tx, user.id);
    await deleteSecondFactorsOf(tx, user.id);
    await clearFailures(tx, user.email);
    await deleteLocksOf(tx, user.email);
    await deleteUserRow(tx, user.id);
  });
}
