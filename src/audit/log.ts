import type { Queryable } from '../db/database.ts';
import {
  countAuditLogRows,
  deleteAuditLogsBefore,
  findAuditLogRow,
  insertAuditLog,
  listAuditLogRows,
  type AuditLogFilter,
  type AuditLogRow,
} from '../db/audit-logs.ts';
import { parseObject } from '../db/json.ts';
import { randomId } from '../lib/random.ts';

/**
 * The audit log: one record per meaningful event, for administrators (`sesame logs`, GET /api/logs).
 * Event keys follow Logto's log keys where Logto has one (README, "Audit log", lists them all).
 *
 * A record holds the address a person typed (administrators need it to follow an attack on an
 * account), but never a code, password, secret, token or cookie: callers put none in `data`, and
 * recordAudit redacts any value under a key that names one (see SECRET_KEY), as a second line.
 */

/** What happened. `actor` is who made a management change: 'cli' or 'app:<m2m app id>'. */
export interface AuditEvent {
  type: string;
  result: 'success' | 'failure';
  userId?: string | null;
  applicationId?: string | null;
  actor?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  data?: Record<string, unknown>;
}

export interface AuditRecord {
  id: string;
  type: string;
  result: 'success' | 'failure';
  userId: string | null;
  applicationId: string | null;
  actor: string | null;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, unknown>;
  createdAt: number;
}

/**
 * Filters and one page, newest first. `type` is an exact key, or a prefix ending in `.*`
 * ('Interaction.SignIn.*'). `from` is inclusive and `to` exclusive (epoch ms). `page` counts from 1.
 */
export interface AuditQuery {
  userId?: string;
  applicationId?: string;
  type?: string;
  from?: number;
  to?: number;
  page: number;
  pageSize: number;
}

/** The event keys Sesame itself records (management changes add `Management.<Entity>.<Action>`). */
export const AuditType = {
  /** A code was mailed (success), or refused (failure: cooldown, rate_limited, delivery_failed, address_refused, or no mail for this address). */
  SignInCodeSent: 'Interaction.SignIn.Verification.EmailVerificationCode.Create',
  RegisterCodeSent: 'Interaction.Register.Verification.EmailVerificationCode.Create',
  ForgotPasswordCodeSent: 'Interaction.ForgotPassword.Verification.EmailVerificationCode.Create',
  /** A code that was not accepted (failure only: a correct code is recorded as the sign-in, sign-up or reset it led to). */
  SignInCodeSubmit: 'Interaction.SignIn.Verification.EmailVerificationCode.Submit',
  RegisterCodeSubmit: 'Interaction.Register.Verification.EmailVerificationCode.Submit',
  ForgotPasswordCodeSubmit: 'Interaction.ForgotPassword.Verification.EmailVerificationCode.Submit',
  /** A password that was not accepted (failure only). */
  PasswordSubmit: 'Interaction.SignIn.Verification.Password.Submit',
  /** A wrong guess started a pause (pair, address or IP): not a Logto key, Logto has no lockout. */
  Lockout: 'Interaction.Lockout',
  SignIn: 'Interaction.SignIn.Submit',
  Register: 'Interaction.Register.Submit',
  /** A password reset by emailed code (the password changed; other sessions and tokens ended). */
  ForgotPassword: 'Interaction.ForgotPassword.Submit',
  /** RP-initiated sign-out: the session ended. Not a Logto key. */
  SignOut: 'SignOut',
  /** A token issued (or refused) to a machine-to-machine app by client_credentials. */
  ClientCredentials: 'ExchangeTokenBy.ClientCredentials',
} as const;

/** Longest user agent kept (real ones are 100-300 characters; the rest is someone's payload). */
export const MAX_USER_AGENT = 512;
const MAX_IP = 64;
const MAX_ID = 200;
const MAX_TYPE = 200;
/** Longest string kept inside `data`, and how deep objects go. */
const MAX_DATA_STRING = 1000;
const MAX_DATA_DEPTH = 4;
const MAX_DATA_KEYS = 50;

/**
 * Keys whose values are never stored, whatever the caller passes: 'password', 'newPassword',
 * 'client_secret', 'appSecret', 'refresh_token', 'accessToken', 'code', 'cookie', 'authorization',
 * 'pass' (an SMTP login), ... Compared without case, '-' and '_'. Names that only contain such a word
 * ('tokenEndpointAuthMethod', 'accessTokenTtl', 'codeTtlMinutes') are details, not secrets.
 */
const SECRET_KEY = /^(.*(password|passwd|secret|token|cookie|pass|hash|hmac|privatekey|apikey|verificationcode|authorizationcode|devicecode|usercode)|code|otp|authorization|credentials?|jwt)$/;

const normalizeKey = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

function truncate(value: string | null | undefined, max: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  return value.length > max ? value.slice(0, max) : value;
}

/** `data` made safe to store: secret-named values redacted, long strings cut, depth and width bounded. */
export function sanitizeAuditData(data: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!data) return {};
  const clean = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return value.length > MAX_DATA_STRING ? `${value.slice(0, MAX_DATA_STRING)}...` : value;
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object') return undefined;
    if (depth >= MAX_DATA_DEPTH) return '[nested too deep]';
    if (Array.isArray(value)) return value.slice(0, MAX_DATA_KEYS).map((item) => clean(item, depth + 1) ?? null);
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value).slice(0, MAX_DATA_KEYS)) {
      if (SECRET_KEY.test(normalizeKey(key))) {
        if (item !== undefined && item !== null) out[key] = '[redacted]';
        continue;
      }
      const kept = clean(item, depth + 1);
      if (kept !== undefined) out[key] = kept;
    }
    return out;
  };
  return clean(data, 0) as Record<string, unknown>;
}

/**
 * Writes one record: a single INSERT, compiled once. With a transaction handle it is part of that
 * transaction (it commits or rolls back with the change it describes).
 */
export async function recordAudit(db: Queryable, event: AuditEvent, now: number = Date.now()): Promise<void> {
  await insertAuditLog(db, {
    id: randomId(),
    type: truncate(event.type, MAX_TYPE) ?? 'Unknown',
    result: event.result === 'success' ? 'success' : 'failure',
    user_id: truncate(event.userId, MAX_ID),
    application_id: truncate(event.applicationId, MAX_ID),
    actor: truncate(event.actor, MAX_ID),
    ip: truncate(event.ip, MAX_IP),
    user_agent: truncate(event.userAgent, MAX_USER_AGENT),
    data: JSON.stringify(sanitizeAuditData(event.data)),
    created_at: now,
  });
}

function fromRow(row: AuditLogRow): AuditRecord {
  return {
    id: row.id,
    type: row.type,
    result: row.result === 'success' ? 'success' : 'failure',
    userId: row.user_id,
    applicationId: row.application_id,
    actor: row.actor,
    ip: row.ip,
    userAgent: row.user_agent,
    data: parseObject(row.data),
    createdAt: Number(row.created_at),
  };
}

function filterOf(query: Omit<AuditQuery, 'page' | 'pageSize'>): AuditLogFilter {
  const filter: AuditLogFilter = { userId: query.userId, applicationId: query.applicationId, from: query.from, to: query.to };
  if (query.type !== undefined) {
    if (query.type.endsWith('.*') && query.type.length > 2) filter.typePrefix = query.type.slice(0, -1);
    else filter.type = query.type;
  }
  return filter;
}

/** One page of records, newest first, and how many match in all. */
export async function listAuditLogs(db: Queryable, query: AuditQuery): Promise<{ rows: AuditRecord[]; total: number }> {
  if (!Number.isSafeInteger(query.page) || query.page < 1) throw new RangeError(`page must be a whole number from 1, got ${query.page}`);
  if (!Number.isSafeInteger(query.pageSize) || query.pageSize < 1) throw new RangeError(`pageSize must be a whole number from 1, got ${query.pageSize}`);
  const filter = filterOf(query);
  const [rows, total] = [
    await listAuditLogRows(db, filter, query.pageSize, (query.page - 1) * query.pageSize),
    await countAuditLogRows(db, filter),
  ];
  return { rows: rows.map(fromRow), total };
}

export async function findAuditLog(db: Queryable, id: string): Promise<AuditRecord | undefined> {
  const row = await findAuditLogRow(db, id);
  return row && fromRow(row);
}

export const AUDIT_PURGE_BATCH = 1000;
/** Rows one purge round deletes at most; a larger backlog is finished by the next rounds. */
export const AUDIT_PURGE_MAX_PER_ROUND = 100_000;

/**
 * Deletes records written before `before`, in batches of `batch` rows (each its own statement, and
 * the event loop is let go between them so requests keep being served), at most `maxRows` per call.
 * Returns how many were deleted.
 */
export async function purgeAuditLogs(
  db: Queryable,
  before: number,
  { batch = AUDIT_PURGE_BATCH, maxRows = AUDIT_PURGE_MAX_PER_ROUND }: { batch?: number; maxRows?: number } = {},
): Promise<number> {
  let deleted = 0;
  while (deleted < maxRows) {
    const n = await deleteAuditLogsBefore(db, before, Math.min(batch, maxRows - deleted));
    deleted += n;
    if (n < batch) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return deleted;
}
