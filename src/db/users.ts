import type { Selectable } from 'kysely';
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
] as const;

function fromRow(row: Selectable<UsersTable>): User {
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

export async function insertUser(db: Queryable, user: User): Promise<void> {
  await db
    .insertInto('users')
    .values({
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
    })
    .execute();
}

/** Records a sign-in; `emailVerified` marks the address verified (and the user updated) when it was not. */
export async function markSignedIn(db: Queryable, id: string, at: number, emailVerified: boolean): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({
      last_sign_in_at: at,
      ...(emailVerified && {
        updated_at: eb.case().when('email_verified', '=', 1).then(eb.ref('updated_at')).else(eb.val(at)).end(),
        email_verified: 1,
      }),
    }))
    .where('id', '=', id)
    .execute();
}

export async function listUsers(db: Queryable, limit = 100, offset = 0): Promise<User[]> {
  const rows = await db.selectFrom('users').select(COLUMNS).orderBy('created_at').orderBy('id').limit(limit).offset(offset).execute();
  return rows.map(fromRow);
}

export async function countUsers(db: Queryable): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function setPasswordHash(db: Queryable, id: string, hash: string, at: number): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash, updated_at: at }).where('id', '=', id).execute();
}

export async function deleteUserRow(db: Queryable, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
