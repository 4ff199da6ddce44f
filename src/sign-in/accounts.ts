import { isUniqueViolation, type Database, type Queryable } from '../db/database.ts';
import { deleteSecondFactorsOf } from '../db/mfa.ts';
import { deleteUserRow, findUserByEmail, findUserById, insertUser, type User } from '../db/users.ts';
import { destroyModelsByAccountId } from '../db/oidc-models.ts';
import { deleteConsoleSessionsOf } from '../db/console-sessions.ts';
import { clearFailures, deleteLocksOf } from '../db/lockout.ts';
import { normalizeEmail } from './email.ts';
import { randomId } from '../lib/random.ts';
import { codeSignInRecord, type CodeVia, type SignInMethod, type SignInRecord } from '../audit/sign-in.ts';

/** An account's own writes at sign-in (see SignInOutcome.write). */
export type AccountWrite = (tx: Queryable) => Promise<void>;

export interface SignInOutcome {
  user: User;
  created: boolean;
  /**
   * The account's writes, not made yet: the new account (nothing for one that exists).
   * kit.completeSignIn makes them in the transaction that completes the sign-in (one commit for the
   * whole step), or that records the second factor still to come. When that fails on the unique
   * address (the same address signed up meanwhile, in another tab), nothing of the sign-in was
   * stored: start over with onceMoreIfSignedUpMeanwhile.
   */
  write: AccountWrite;
  /** What the sign-in records once complete, after any second factor (kit.completeSignIn). */
  record: SignInRecord;
}

export interface VerifiedEmailOptions {
  allowSignUp: boolean;
  now: number;
  passwordHash?: string;
  /** How the address was proved, for the audit record: the code (default) or the link, at sign-in or after a password reset. */
  method?: Exclude<SignInMethod, 'Password'>;
  via?: CodeVia;
  /** The account the caller has just looked up for the address (`user` undefined: none), so it is not read twice. */
  lookedUp?: { user: User | undefined };
}

const nothingToWrite: AccountWrite = async () => undefined;

/**
 * The code proved the person controls `email`: sign in the account that owns it, or make one
 * (sign-up). Reads the account unless `lookedUp` has it, and writes nothing: see SignInOutcome.write.
 */
export async function signInVerifiedEmail(db: Database, email: string, options: VerifiedEmailOptions): Promise<SignInOutcome | undefined> {
  const { method = 'VerificationCode', via } = options;
  const existing = options.lookedUp ? options.lookedUp.user : await findUserByEmail(db, email);
  if (existing) {
    // An account deleted since it was read: the sign-in's update changes nothing, and the sign-in
    // ends as it would had the deletion come a moment later (oidc-provider finds no account).
    return { user: { ...existing, emailVerified: true }, created: false, write: nothingToWrite, record: codeSignInRecord(existing, false, method, via) };
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
    // Set by the sign-in's record, once the sign-in is complete: an account whose sign-up stops at
    // the second factor's set-up has never signed in.
    lastSignInAt: null,
  };
  return { user, created: true, write: (tx) => insertUser(tx, user), record: codeSignInRecord(user, true, method, via) };
}

/**
 * Runs `signIn` (which looks the account up and completes the sign-in with its SignInOutcome), and
 * once more if it made an account whose address another request took meanwhile: the insert failed on
 * the unique address and the whole step was rolled back, so the second run finds that account and
 * signs in to it.
 */
export async function onceMoreIfSignedUpMeanwhile<T>(signIn: () => Promise<T>): Promise<T> {
  try {
    return await signIn();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return signIn();
  }
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
