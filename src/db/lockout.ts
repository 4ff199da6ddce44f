import type { Queryable } from './database.ts';
import { countInWindow, type EventSubject } from './event-window.ts';

export async function insertFailure(db: Queryable, failure: { id: string; email: string; ip: string; failedAt: number }): Promise<void> {
  await db.run('INSERT INTO sign_in_failures (id, email, ip, failed_at) VALUES (?, ?, ?, ?)', [
    failure.id,
    failure.email,
    failure.ip,
    failure.failedAt,
  ]);
}

export const countFailures = (db: Queryable, subject: EventSubject, since: number) => countInWindow(db, 'sign_in_failures', subject, since);

/** Forgets failures of an address, from one IP or (without `ip`) from everywhere. */
export async function clearFailures(db: Queryable, email: string, ip?: string): Promise<void> {
  if (ip === undefined) await db.run('DELETE FROM sign_in_failures WHERE email = ?', [email]);
  else await db.run('DELETE FROM sign_in_failures WHERE email = ? AND ip = ?', [email, ip]);
}

export interface LockRow {
  level: number;
  locked_until: number;
}

export function findLock(db: Queryable, subject: string): Promise<LockRow | undefined> {
  return db.get<LockRow>('SELECT level, locked_until FROM sign_in_locks WHERE subject = ?', [subject]);
}

export async function saveLock(db: Queryable, subject: string, email: string, level: number, lockedUntil: number, at: number): Promise<void> {
  await db.run(
    `INSERT INTO sign_in_locks (subject, email, level, locked_until, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (subject) DO UPDATE SET level = excluded.level, locked_until = excluded.locked_until, updated_at = excluded.updated_at`,
    [subject, email, level, lockedUntil, at],
  );
}

export async function deleteLock(db: Queryable, subject: string): Promise<void> {
  await db.run('DELETE FROM sign_in_locks WHERE subject = ?', [subject]);
}

/** Every lock of an address (its own and its pairs): for deleting an account. */
export async function deleteLocksOf(db: Queryable, email: string): Promise<void> {
  await db.run('DELETE FROM sign_in_locks WHERE email = ?', [email]);
}

export async function purgeFailures(db: Queryable, before: number): Promise<void> {
  await db.run('DELETE FROM sign_in_failures WHERE failed_at < ?', [before]);
  await db.run('DELETE FROM sign_in_locks WHERE locked_until < ? AND updated_at < ?', [before, before]);
}
