import type { Queryable } from './database.ts';
import { countInWindow } from './event-window.ts';

export async function insertFailure(db: Queryable, failure: { id: string; email: string; ip: string; failedAt: number }): Promise<void> {
  await db.run('INSERT INTO sign_in_failures (id, email, ip, failed_at) VALUES (?, ?, ?, ?)', [
    failure.id,
    failure.email,
    failure.ip,
    failure.failedAt,
  ]);
}

export const countFailures = (db: Queryable, column: 'email' | 'ip', value: string, since: number) =>
  countInWindow(db, 'sign_in_failures', column, value, since);

export async function clearFailures(db: Queryable, email: string): Promise<void> {
  await db.run('DELETE FROM sign_in_failures WHERE email = ?', [email]);
}

export interface LockoutRow {
  level: number;
  locked_until: number;
}

export function findLockout(db: Queryable, email: string): Promise<LockoutRow | undefined> {
  return db.get<LockoutRow>('SELECT level, locked_until FROM sign_in_lockouts WHERE email = ?', [email]);
}

export async function saveLockout(db: Queryable, email: string, level: number, lockedUntil: number, at: number): Promise<void> {
  await db.run(
    `INSERT INTO sign_in_lockouts (email, level, locked_until, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (email) DO UPDATE SET level = excluded.level, locked_until = excluded.locked_until, updated_at = excluded.updated_at`,
    [email, level, lockedUntil, at],
  );
}

export async function deleteLockout(db: Queryable, email: string): Promise<void> {
  await db.run('DELETE FROM sign_in_lockouts WHERE email = ?', [email]);
}

export async function purgeFailures(db: Queryable, before: number): Promise<void> {
  await db.run('DELETE FROM sign_in_failures WHERE failed_at < ?', [before]);
}
