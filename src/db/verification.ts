import type { Queryable } from './database.ts';
import { countInWindow, type EventSubject } from './event-window.ts';

export interface CodeRecord {
  interactionUid: string;
  purpose: string;
  email: string;
  codeHmac: string;
  failedAttempts: number;
  expiresAt: number;
  lastSentAt: number;
  consumedAt: number | null;
  createdAt: number;
}

interface CodeRow {
  interaction_uid: string;
  purpose: string;
  email: string;
  code_hmac: string;
  failed_attempts: number;
  expires_at: number;
  last_sent_at: number;
  consumed_at: number | null;
  created_at: number;
}

const COLUMNS = 'interaction_uid, purpose, email, code_hmac, failed_attempts, expires_at, last_sent_at, consumed_at, created_at';

const fromRow = (row: CodeRow): CodeRecord => ({
  interactionUid: row.interaction_uid,
  purpose: row.purpose,
  email: row.email,
  codeHmac: row.code_hmac,
  failedAttempts: row.failed_attempts,
  expiresAt: row.expires_at,
  lastSentAt: row.last_sent_at,
  consumedAt: row.consumed_at,
  createdAt: row.created_at,
});

export async function findCode(db: Queryable, interactionUid: string, purpose: string): Promise<CodeRecord | undefined> {
  const row = await db.get<CodeRow>(`SELECT ${COLUMNS} FROM verification_codes WHERE interaction_uid = ? AND purpose = ?`, [
    interactionUid,
    purpose,
  ]);
  return row && fromRow(row);
}

/** Insert or replace the live code of an interaction; the caller decides the failure count to keep. */
export async function saveCode(db: Queryable, code: CodeRecord): Promise<void> {
  await db.run(
    `INSERT INTO verification_codes (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (interaction_uid, purpose) DO UPDATE SET
       email = excluded.email, code_hmac = excluded.code_hmac, failed_attempts = excluded.failed_attempts,
       expires_at = excluded.expires_at, last_sent_at = excluded.last_sent_at, consumed_at = excluded.consumed_at,
       created_at = excluded.created_at`,
    [
      code.interactionUid,
      code.purpose,
      code.email,
      code.codeHmac,
      code.failedAttempts,
      code.expiresAt,
      code.lastSentAt,
      code.consumedAt,
      code.createdAt,
    ],
  );
}

export async function deleteCode(db: Queryable, interactionUid: string, purpose: string): Promise<void> {
  await db.run('DELETE FROM verification_codes WHERE interaction_uid = ? AND purpose = ?', [interactionUid, purpose]);
}

/** Counts a wrong guess; returns the new count. */
export async function recordFailedAttempt(db: Queryable, interactionUid: string, purpose: string): Promise<number> {
  await db.run(
    'UPDATE verification_codes SET failed_attempts = failed_attempts + 1 WHERE interaction_uid = ? AND purpose = ?',
    [interactionUid, purpose],
  );
  return (await findCode(db, interactionUid, purpose))?.failedAttempts ?? 0;
}

/** Atomic single use: only one caller can flip consumed_at from NULL. */
export async function consumeCode(db: Queryable, interactionUid: string, purpose: string, at: number): Promise<boolean> {
  const result = await db.run(
    'UPDATE verification_codes SET consumed_at = ? WHERE interaction_uid = ? AND purpose = ? AND consumed_at IS NULL',
    [at, interactionUid, purpose],
  );
  return result.changes === 1;
}

export async function insertSend(db: Queryable, send: { id: string; email: string; ip: string; sentAt: number }): Promise<void> {
  await db.run('INSERT INTO verification_sends (id, email, ip, sent_at) VALUES (?, ?, ?, ?)', [
    send.id,
    send.email,
    send.ip,
    send.sentAt,
  ]);
}

export async function deleteSend(db: Queryable, id: string): Promise<void> {
  await db.run('DELETE FROM verification_sends WHERE id = ?', [id]);
}

/** Sends since `since`, and the oldest of them (to tell the person when the window frees up). */
export const countSends = (db: Queryable, subject: EventSubject, since: number) => countInWindow(db, 'verification_sends', subject, since);

export async function purgeVerification(db: Queryable, codesBefore: number, sendsBefore: number): Promise<void> {
  await db.run('DELETE FROM verification_codes WHERE expires_at < ?', [codesBefore]);
  await db.run('DELETE FROM verification_sends WHERE sent_at < ?', [sendsBefore]);
}
