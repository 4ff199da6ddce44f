import { z } from 'zod';
import type { Database, Queryable } from '../db/database.ts';
import { countUsers, findUserById, findUserConflict, insertUser, listUsers, setUserSuspended, updateUser, type User, type UserChanges } from '../db/users.ts';
import { destroyModelsByAccountId } from '../db/oidc-models.ts';
import { deleteAccount } from '../sign-in/accounts.ts';
import { normalizeEmail } from '../sign-in/email.ts';
import { loadExperience } from '../sign-in/experience.ts';
import { english } from '../sign-in/messages.ts';
import { passwordProblem, type PasswordHasher } from '../sign-in/passwords.ts';
import { randomId } from '../lib/random.ts';
import { firstIssue, hasControlCharacter } from '../lib/validation.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.ts';
import { validateCustomData } from './custom-data.ts';
import { deleteConsoleSessionsOf } from '../db/console-sessions.ts';
import { deleteAccountSessionsOf } from '../db/account-sessions.ts';

/** Logto's username rule: a letter or underscore, then letters, digits and underscores. */
const USERNAME = /^[A-Z_a-z]\w*$/;

const email = z.string({ error: 'primaryEmail must be an email address' }).transform((value, ctx) => {
  const result = normalizeEmail(value);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: `primaryEmail: ${english(result.error)}` });
    return z.NEVER;
  }
  return result.email;
});
const username = z
  .string({ error: 'username must be text' })
  .max(128, 'username must be at most 128 characters')
  .regex(USERNAME, 'username must start with a letter or _ and hold only letters, digits and _');
const name = z
  .string({ error: 'name must be text' })
  .trim()
  .max(128, 'name must be at most 128 characters')
  .refine((value) => !hasControlCharacter(value), 'name must not contain line breaks or control characters');

export const newUserSchema = z.object({
  primaryEmail: email,
  username: username.optional(),
  name: name.optional(),
  password: z.string().max(256, 'password must be at most 256 characters').optional(),
  customData: z.record(z.string(), z.unknown()).optional(),
});
export type NewUser = z.input<typeof newUserSchema>;

export const userChangesSchema = z.object({
  primaryEmail: email.optional(),
  username: username.nullable().optional(),
  name: name.nullable().optional(),
  customData: z.record(z.string(), z.unknown()).optional(),
});
export type UserProfileChanges = z.input<typeof userChangesSchema>;

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  return parsed.data;
}

async function refuseTaken(tx: Queryable, fields: { email?: string; username?: string | null }, exceptId?: string): Promise<void> {
  const taken = await findUserConflict(tx, fields, exceptId);
  if (taken === 'email') throw new ConflictError(`another user already has the email address ${fields.email}`);
  if (taken === 'username') throw new ConflictError(`another user already has the username ${fields.username}`);
}

export async function getUser(db: Queryable, id: string): Promise<User> {
  const user = await findUserById(db, id);
  if (!user) throw new NotFoundError('user', id);
  return user;
}

export async function listUsersPage(db: Database, search: string | undefined, page: { limit: number; offset: number }) {
  const [rows, total] = await Promise.all([listUsers(db, page.limit, page.offset, { search }), countUsers(db, { search })]);
  return { rows, total };
}

/**
 * Creates an account as an operator: its email counts as verified (the operator vouches for it, and
 * the person proves it with the first emailed code anyway). A password must meet the sign-in
 * experience's password policy.
 */
export async function createUser(db: Database, input: NewUser, deps: { passwords: PasswordHasher; now?: number; codeTtlMinutes?: number }, who: ManagementActor): Promise<User> {
  const fields = parse(newUserSchema, input);
  if (fields.customData) validateCustomData(fields.customData);
  let passwordHash: string | null = null;
  if (fields.password !== undefined) {
    const { passwordPolicy } = await loadExperience(db, deps.codeTtlMinutes);
    const problem = passwordProblem(fields.password, fields.primaryEmail, passwordPolicy);
    if (problem) throw new InvalidInputError(`password: ${english(problem)}`);
    passwordHash = await deps.passwords.hash(fields.password);
  }
  const at = deps.now ?? Date.now();
  const user: User = {
    id: randomId(12),
    email: fields.primaryEmail,
    emailVerified: true,
    name: fields.name || null,
    username: fields.username ?? null,
    passwordHash,
    customData: fields.customData ?? {},
    createdAt: at,
    updatedAt: at,
    lastSignInAt: null,
    isSuspended: false,
  };
  await db.transaction().execute(async (tx) => {
    await refuseTaken(tx, { email: user.email, username: user.username });
    await insertUser(tx, user);
    await auditChange(tx, who, 'User.Create', { userId: user.id }, { passwordSet: passwordHash !== null });
  });
  return user;
}

/** Changes the profile (email, username, name) and replaces custom data, as Logto's PATCH /api/users/:id. */
export async function updateUserProfile(db: Database, id: string, input: UserProfileChanges, who: ManagementActor, now = Date.now()): Promise<User> {
  const fields = parse(userChangesSchema, input);
  const changes: UserChanges = {
    ...(fields.primaryEmail !== undefined && { email: fields.primaryEmail }),
    ...(fields.username !== undefined && { username: fields.username }),
    ...(fields.name !== undefined && { name: fields.name || null }),
    ...(fields.customData !== undefined && { customData: validateCustomData(fields.customData) }),
  };
  return db.transaction().execute(async (tx) => {
    if (!(await findUserById(tx, id))) throw new NotFoundError('user', id);
    await refuseTaken(tx, { email: changes.email, username: changes.username }, id);
    await updateUser(tx, id, changes, now);
    await auditChange(tx, who, 'User.Update', { userId: id }, { fields: Object.keys(changes) });
    return getUser(tx, id);
  });
}

/** Merges `partial` into the user's custom data (top-level keys replace), as Logto's PATCH .../custom-data. */
export async function mergeUserCustomData(db: Database, id: string, partial: Record<string, unknown>, who: ManagementActor, now = Date.now()): Promise<Record<string, unknown>> {
  return db.transaction().execute(async (tx) => {
    const user = await findUserById(tx, id);
    if (!user) throw new NotFoundError('user', id);
    const customData = validateCustomData({ ...user.customData, ...partial });
    await updateUser(tx, id, { customData }, now);
    await auditChange(tx, who, 'User.UpdateCustomData', { userId: id }, { keys: Object.keys(partial) });
    return customData;
  });
}

/** Replaces the user's custom data (`sesame user set-custom-data`). */
export async function replaceUserCustomData(db: Database, id: string, customData: Record<string, unknown>, who: ManagementActor, now = Date.now()): Promise<void> {
  const checked = validateCustomData(customData);
  await db.transaction().execute(async (tx) => {
    if (!(await findUserById(tx, id))) throw new NotFoundError('user', id);
    await updateUser(tx, id, { customData: checked }, now);
    await auditChange(tx, who, 'User.UpdateCustomData', { userId: id }, { keys: Object.keys(checked) });
  });
}

/** Every session, grant and refresh or opaque access token of the account, and its admin console and account page sessions. */
async function endSessionsAndTokens(tx: Queryable, userId: string): Promise<number> {
  await deleteConsoleSessionsOf(tx, userId);
  await deleteAccountSessionsOf(tx, userId);
  return destroyModelsByAccountId(tx, userId);
}

/**
 * Suspends (or restores) an account. Suspending also ends every session and token it holds, in the
 * same transaction; from then on it cannot sign in and findAccount refuses it (see src/oidc/account.ts).
 */
export async function setSuspended(db: Database, id: string, suspended: boolean, who: ManagementActor, now = Date.now()): Promise<User> {
  return db.transaction().execute(async (tx) => {
    if (!(await setUserSuspended(tx, id, suspended, now))) throw new NotFoundError('user', id);
    if (suspended) await endSessionsAndTokens(tx, id);
    await auditChange(tx, who, suspended ? 'User.Suspend' : 'User.Unsuspend', { userId: id });
    return getUser(tx, id);
  });
}

/** Signs the account out everywhere: every session, grant and refresh token ends. */
export async function revokeUserSessions(db: Database, id: string, who: ManagementActor): Promise<number> {
  return db.transaction().execute(async (tx) => {
    if (!(await findUserById(tx, id))) throw new NotFoundError('user', id);
    const ended = await endSessionsAndTokens(tx, id);
    await auditChange(tx, who, 'User.RevokeSessions', { userId: id }, { ended });
    return ended;
  });
}

/**
 * Removes the account with everything it holds (deleteAccount, the one place that does it, in its
 * own transaction), then records who did it.
 */
export async function deleteUser(db: Database, user: User, who: ManagementActor): Promise<void> {
  await deleteAccount(db, user);
  await auditChange(db, who, 'User.Delete', { userId: user.id });
}
