import { sql, type Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import { parseObject } from './json.ts';
import type { UsersTable } from './schema.ts';

export interface User {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  username: string | null;
  passwordHash: string | null;
  customData: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
  /**
   * Suspended by an operator: may not sign in, and findAccount refuses the account's tokens.
   * Always set on a user read from the database; optional on insert (absent means not suspended).
   */
  isSuspended?: boolean;
  /** Holds the admin role (the admin console). Always set on a user read; optional on insert. */
  isAdmin?: boolean;
}

const COLUMNS = [
  'id',
  'email',
  'email_verified',
  'name',
  'username',
  'password_hash',
  'custom_data',
  'created_at',
  'updated_at',
  'last_sign_in_at',
  'is_suspended',
  'is_admin',
] as const;

function fromRow(row: Pick<Selectable<UsersTable>, (typeof COLUMNS)[number]>): User {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified === 1,
    name: row.name,
    username: row.username,
    passwordHash: row.password_hash,
    customData: parseObject(row.custom_data),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastSignInAt: row.last_sign_in_at === null ? null : Number(row.last_sign_in_at),
    isSuspended: row.is_suspended === 1,
    isAdmin: row.is_admin === 1,
  };
}

const byId = prepared((db, p: { id: string }) => db.selectFrom('users').select(COLUMNS).where('id', '=', p.id));
const byEmail = prepared((db, p: { email: string }) => db.selectFrom('users').select(COLUMNS).where('email', '=', p.email));

export async function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  const [row] = (await byId(db, { id })).rows;
  return row && fromRow(row);
}

/** `email` must already be normalised (see normalizeEmail). */
export async function findUserByEmail(db: Queryable, email: string): Promise<User | undefined> {
  const [row] = (await byEmail(db, { email })).rows;
  return row && fromRow(row);
}

const byEmailForSignIn = prepared((db, p: { email: string }) =>
  db
    .selectFrom('users')
    .select(COLUMNS)
    .select((eb) =>
      eb
        .exists(eb.selectFrom('mfa_totp').select('mfa_totp.user_id').whereRef('mfa_totp.user_id', '=', 'users.id').where('mfa_totp.confirmed_at', 'is not', null))
        .as('second_factor'),
    )
    .where('email', '=', p.email),
);

/** An account as a sign-in reads it: with whether it has a second factor set up. */
export interface AccountForSignIn {
  user: User;
  secondFactor: boolean;
}

/**
 * findUserByEmail for a sign-in by email: the account, and whether it has a second factor set up (a
 * confirmed authenticator, src/mfa/second-factor.ts), in one read instead of two.
 */
export async function findUserForSignIn(db: Queryable, email: string): Promise<AccountForSignIn | undefined> {
  const [row] = (await byEmailForSignIn(db, { email })).rows;
  // EXISTS is a boolean on PostgreSQL and 0/1 on SQLite.
  return row && { user: fromRow(row), secondFactor: row.second_factor === true || Number(row.second_factor) === 1 };
}

const insertUserRow = prepared((db, p: Selectable<UsersTable>) =>
  db.insertInto('users').values({
    id: p.id,
    email: p.email,
    email_verified: p.email_verified,
    name: p.name,
    username: p.username,
    password_hash: p.password_hash,
    custom_data: p.custom_data,
    created_at: p.created_at,
    updated_at: p.updated_at,
    last_sign_in_at: p.last_sign_in_at,
    is_suspended: p.is_suspended,
    is_admin: p.is_admin,
  }),
);

export async function insertUser(db: Queryable, user: User): Promise<void> {
  await insertUserRow(db, {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified ? 1 : 0,
    name: user.name,
    username: user.username,
    password_hash: user.passwordHash,
    custom_data: JSON.stringify(user.customData),
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    last_sign_in_at: user.lastSignInAt,
    is_suspended: user.isSuspended ? 1 : 0,
    is_admin: user.isAdmin ? 1 : 0,
  });
}

const signedIn = prepared((db, p: { id: string; at: number }) => db.updateTable('users').set({ last_sign_in_at: p.at }).where('id', '=', p.id));
const signedInVerified = prepared((db, p: { id: string; at: number }) =>
  db
    .updateTable('users')
    .set((eb) => ({
      last_sign_in_at: p.at,
      updated_at: eb.case().when('email_verified', '=', 1).then(eb.ref('updated_at')).else(eb.val(p.at)).end(),
      email_verified: 1,
    }))
    .where('id', '=', p.id),
);

/** Records a sign-in; `emailVerified` marks the address verified (and the user updated) when it was not. */
export async function markSignedIn(db: Queryable, id: string, at: number, emailVerified: boolean): Promise<void> {
  await (emailVerified ? signedInVerified : signedIn)(db, { id, at });
}

/**
 * `search`: a case-insensitive substring of the email, name, username or ID. Logto's `%` wildcards
 * are accepted and mean "anything", so `%@example.com` and `@example.com` find the same users.
 */
export interface UserFilter {
  search?: string;
}

function filtered(db: Queryable, filter: UserFilter) {
  const query = db.selectFrom('users');
  const words = filter.search?.split('%').filter(Boolean) ?? [];
  if (words.length === 0) return query;
  // Each piece between wildcards must appear, in order: one LIKE pattern, with LIKE's own
  // metacharacters in the text escaped.
  const pattern = `%${words.map((word) => word.toLowerCase().replace(/[\\_%]/g, (c) => `\\${c}`)).join('%')}%`;
  return query.where((eb) =>
    eb.or(
      (['email', 'name', 'username', 'id'] as const).map((column) => eb(sql`lower(${sql.ref(column)})`, 'like', sql`${pattern} escape '\\'`)),
    ),
  );
}

export async function listUsers(db: Queryable, limit = 100, offset = 0, filter: UserFilter = {}): Promise<User[]> {
  const rows = await filtered(db, filter).select(COLUMNS).orderBy('created_at').orderBy('id').limit(limit).offset(offset).execute();
  return rows.map(fromRow);
}

export async function countUsers(db: Queryable, filter: UserFilter = {}): Promise<number> {
  const row = await filtered(db, filter).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Profile fields an operator may change; `null` clears name or username. */
export interface UserChanges {
  email?: string;
  name?: string | null;
  username?: string | null;
  customData?: Record<string, unknown>;
}

/** Applies `changes` and bumps updated_at; false when no such user. */
export async function updateUser(db: Queryable, id: string, changes: UserChanges, at: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({
      ...(changes.email !== undefined && { email: changes.email }),
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.username !== undefined && { username: changes.username }),
      ...(changes.customData !== undefined && { custom_data: JSON.stringify(changes.customData) }),
      updated_at: at,
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function setUserSuspended(db: Queryable, id: string, suspended: boolean, at: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ is_suspended: suspended ? 1 : 0, updated_at: at })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function setUserAdmin(db: Queryable, id: string, admin: boolean, at: number): Promise<boolean> {
  const result = await db.updateTable('users').set({ is_admin: admin ? 1 : 0, updated_at: at }).where('id', '=', id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Every administrator, oldest first (there are few: the partial index users_admins holds only them). */
export async function listAdminUsers(db: Queryable): Promise<User[]> {
  const rows = await db.selectFrom('users').select(COLUMNS).where('is_admin', '=', 1).orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

/** Whether another account already uses `email` or `username` (for a clear 422 instead of a constraint error). */
export async function findUserConflict(db: Queryable, fields: { email?: string; username?: string | null }, exceptId?: string): Promise<'email' | 'username' | undefined> {
  if (fields.email !== undefined) {
    const row = await db.selectFrom('users').select('id').where('email', '=', fields.email).executeTakeFirst();
    if (row && row.id !== exceptId) return 'email';
  }
  if (fields.username) {
    const row = await db.selectFrom('users').select('id').where('username', '=', fields.username).executeTakeFirst();
    if (row && row.id !== exceptId) return 'username';
  }
  return undefined;
}

export async function setPasswordHash(db: Queryable, id: string, hash: string, at: number): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash, updated_at: at }).where('id', '=', id).execute();
}

export async function deleteUserRow(db: Queryable, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
