import type { Queryable } from './database.ts';

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

interface UserRow {
  id: string;
  email: string;
  email_verified: number;
  name: string | null;
  username: string | null;
  password_hash: string | null;
  custom_data: string;
  created_at: number;
  updated_at: number;
  last_sign_in_at: number | null;
}

const COLUMNS =
  'id, email, email_verified, name, username, password_hash, custom_data, created_at, updated_at, last_sign_in_at';

function fromRow(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified === 1,
    name: row.name,
    username: row.username,
    passwordHash: row.password_hash,
    customData: JSON.parse(row.custom_data) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSignInAt: row.last_sign_in_at,
  };
}

export async function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  const row = await db.get<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id]);
  return row && fromRow(row);
}

/** `email` must already be normalised (see normalizeEmail). */
export async function findUserByEmail(db: Queryable, email: string): Promise<User | undefined> {
  const row = await db.get<UserRow>(`SELECT ${COLUMNS} FROM users WHERE email = ?`, [email]);
  return row && fromRow(row);
}

export async function insertUser(db: Queryable, user: User): Promise<void> {
  await db.run(`INSERT INTO users (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    user.id,
    user.email,
    user.emailVerified ? 1 : 0,
    user.name,
    user.username,
    user.passwordHash,
    JSON.stringify(user.customData),
    user.createdAt,
    user.updatedAt,
    user.lastSignInAt,
  ]);
}

export async function markSignedIn(db: Queryable, id: string, at: number, emailVerified: boolean): Promise<void> {
  await db.run(
    `UPDATE users SET last_sign_in_at = ?,
       updated_at = CASE WHEN email_verified = 1 OR ? = 0 THEN updated_at ELSE ? END,
       email_verified = CASE WHEN ? = 1 THEN 1 ELSE email_verified END
     WHERE id = ?`,
    [at, emailVerified ? 1 : 0, at, emailVerified ? 1 : 0, id],
  );
}

export async function listUsers(db: Queryable, limit = 100, offset = 0): Promise<User[]> {
  const rows = await db.all<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY created_at, id LIMIT ? OFFSET ?`, [
    limit,
    offset,
  ]);
  return rows.map(fromRow);
}

export async function countUsers(db: Queryable): Promise<number> {
  return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM users'))?.n ?? 0;
}

export async function setPasswordHash(db: Queryable, id: string, hash: string, at: number): Promise<void> {
  await db.run('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?', [hash, at, id]);
}

export async function deleteUserRow(db: Queryable, id: string): Promise<boolean> {
  return (await db.run('DELETE FROM users WHERE id = ?', [id])).changes > 0;
}
