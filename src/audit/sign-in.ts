import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Interaction } from 'oidc-provider';
import type { Queryable } from '../db/database.ts';
import { findUserByEmail, markSignedIn, type User } from '../db/users.ts';
import { MailDeliveryError } from '../mail/errors.ts';
import { clientIp } from '../lib/request.ts';
import type { IssueResult, VerifyResult } from '../sign-in/codes.ts';
import type { LockState } from '../sign-in/lockout.ts';
import { AuditType, MAX_USER_AGENT, recordAudit, type AuditEvent } from './log.ts';

/**
 * The sign-in experience's audit events, one call per event site in src/sign-in/ (kept to a line
 * there). Each writes one row and reads nothing on the way of a successful sign-in; the lookups
 * below (who owns a typed address) happen only after a refusal.
 *
 * A record that cannot be written is logged and the request goes on: the sign-in it describes has
 * already happened (or been refused), and a person must not get an error page because the log
 * failed. Records made inside a transaction (sign-up/sign-in, password reset) are the exception:
 * they commit or fail with it. Times are the wall clock (Date.now), as the retention purge's cutoff.
 */

/** How the person proved who they are, as data.method. */
export type SignInMethod = 'VerificationCode' | 'Password' | 'ForgotPassword';

/** What the request tells about who is acting: the client address (TRUST_PROXY applied), the browser, the app. */
export interface AuditRequestContext {
  ip: string;
  userAgent: string | null;
  applicationId: string | null;
}

/**
 * What a sign-in records once it is complete: its audit event (SignIn, or Register for an account
 * it made) and whether it proved the address (email_verified). Data, not a write: when a second
 * factor is still to come it waits with the pending sign-in (mfa_pending), so a first factor alone
 * (a stolen password, a mailbox without the authenticator) is neither logged as a sign-in nor shown
 * as the account's last sign-in. recordSignIn writes it, with the context of the request that
 * completes the sign-in.
 */
export const signInRecordSchema = z.object({
  event: z.enum(['SignIn', 'Register']),
  /** The audit record's data besides the address (method, via, the passkey used...). */
  data: z.record(z.string(), z.unknown()),
  emailVerified: z.boolean(),
});
export type SignInRecord = z.infer<typeof signInRecordSchema>;

/** A sign-in with the emailed code or link (`method` VerificationCode, or ForgotPassword after a reset). */
export function codeSignInRecord(user: Pick<User, 'passwordHash'>, created: boolean, method: Exclude<SignInMethod, 'Password'>, via: CodeVia = 'code'): SignInRecord {
  const how = via === 'link' ? { method, via } : { method };
  return { event: created ? 'Register' : 'SignIn', data: created ? { ...how, passwordSet: user.passwordHash !== null } : how, emailVerified: true };
}

/** A password sign-in: it proves nothing about the mailbox, so email_verified is left as it is. */
export const PASSWORD_SIGN_IN: SignInRecord = { event: 'SignIn', data: { method: 'Password' }, emailVerified: false };

/**
 * Writes a complete sign-in (kit.completeSignIn): the account's last sign-in (and its address
 * verified, when the sign-in proved it) and the audit record. In the transaction that completes the
 * sign-in: errors propagate, they are the sign-in's.
 */
export async function recordSignIn(
  tx: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  user: Pick<User, 'id' | 'email'>,
  record: SignInRecord,
  at: number,
): Promise<void> {
  await markSignedIn(tx, user.id, at, record.emailVerified);
  await recordAudit(tx, {
    ...auditContext(request, interaction),
    type: record.event === 'Register' ? AuditType.Register : AuditType.SignIn,
    result: 'success',
    userId: user.id,
    data: { email: user.email, ...record.data },
  });
}

/** Which form of the emailed secret was used: typed code, or the email's sign-in link. */
export type CodeVia = 'code' | 'link';

export function auditContext(request: FastifyRequest, interaction: Pick<Interaction, 'params'>): AuditRequestContext {
  const agent = request.headers['user-agent'];
  const clientId = interaction.params.client_id;
  return {
    ip: clientIp(request),
    userAgent: typeof agent === 'string' && agent ? agent.slice(0, MAX_USER_AGENT) : null,
    applicationId: typeof clientId === 'string' ? clientId : null,
  };
}

/** The code flows' purposes (src/sign-in/routes/email-code.ts, recovery.ts) as Logto's interaction events. */
function eventOf(purpose: string, user: User | undefined): 'SignIn' | 'Register' | 'ForgotPassword' {
  if (purpose === 'forgot') return 'ForgotPassword';
  return user ? 'SignIn' : 'Register';
}

const CODE_SENT = { SignIn: AuditType.SignInCodeSent, Register: AuditType.RegisterCodeSent, ForgotPassword: AuditType.ForgotPasswordCodeSent };
const CODE_SUBMIT = { SignIn: AuditType.SignInCodeSubmit, Register: AuditType.RegisterCodeSubmit, ForgotPassword: AuditType.ForgotPasswordCodeSubmit };

async function write(db: Queryable, request: FastifyRequest, events: AuditEvent[]): Promise<void> {
  try {
    for (const event of events) await recordAudit(db, event);
  } catch (error) {
    request.log.error({ err: error, audit: events.map((event) => event.type) }, 'audit log: could not record the event');
  }
}

/** Why no mail left, for a code request that got the same page as a real one (see CodeFlow.phantom). */
function notSentReason(purpose: string, user: User | undefined): string {
  if (purpose === 'forgot') return 'no_account';
  return user ? 'sign_in_closed' : 'sign_up_closed';
}

function sendFailure(result: Exclude<IssueResult, { status: 'sent' | 'uncertain' }>): Record<string, unknown> {
  if (result.status === 'delivery_failed') {
    const error = result.error instanceof MailDeliveryError ? result.error : undefined;
    return { reason: error?.recipientRefused ? 'address_refused' : 'delivery_failed', smtpCode: error?.responseCode ?? error?.code };
  }
  return { reason: result.status, retryAfterSeconds: result.retryAfterSeconds };
}

/** A code was asked for: mailed (success) or refused (failure, with the reason). */
export function auditCodeSent(
  db: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  sent: { purpose: string; email: string; user: User | undefined; phantom: boolean; result: IssueResult },
): Promise<void> {
  const { purpose, email, user, phantom, result } = sent;
  const ok = result.status === 'sent' || result.status === 'uncertain';
  const data: Record<string, unknown> = { email };
  if (!ok) Object.assign(data, sendFailure(result));
  else if (phantom) data.reason = notSentReason(purpose, user);
  else if (result.status === 'uncertain') data.delivery = 'unconfirmed';
  return write(db, request, [
    {
      ...auditContext(request, interaction),
      type: CODE_SENT[eventOf(purpose, user)],
      // A code nobody received (no account, or the mode is closed) is not a sent code.
      result: ok && !phantom ? 'success' : 'failure',
      userId: user?.id ?? null,
      data,
    },
  ]);
}

function lockoutEvent(context: AuditRequestContext, userId: string | null, email: string, event: string, method: string, lock: LockState): AuditEvent[] {
  if (!lock.locked) return [];
  return [{ ...context, type: AuditType.Lockout, result: 'failure', userId, data: { email, event, method, scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds } }];
}

/**
 * A code was refused: wrong, already used up, or not checked because the address or IP is paused
 * (`status: 'locked'`). `lock` is what the failure caused: a lockout record follows when it locked.
 */
export async function auditCodeRefused(
  db: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  refused: { purpose: string; email: string; result: Extract<VerifyResult, { status: 'wrong' | 'dead' }> | { status: 'locked' }; lock: LockState; via?: CodeVia },
): Promise<void> {
  const { purpose, email, result, lock, via } = refused;
  const context = auditContext(request, interaction);
  let user: User | undefined;
  try {
    user = await findUserByEmail(db, email);
  } catch {
    // The record still goes in, without the account (write() reports a database that is down).
  }
  const event = eventOf(purpose, user);
  const userId = user?.id ?? null;
  const data: Record<string, unknown> = { email, reason: result.status === 'dead' ? 'used_up' : result.status };
  if (via === 'link') data.via = 'link';
  if (result.status === 'wrong') data.attemptsLeft = result.attemptsLeft;
  if (result.status === 'locked' && lock.locked) Object.assign(data, { scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds });
  await write(db, request, [
    { ...context, type: CODE_SUBMIT[event], result: 'failure', userId, data },
    ...(result.status === 'locked' ? [] : lockoutEvent(context, userId, email, event, 'VerificationCode', lock)),
  ]);
}

/**
 * A password was refused: wrong (or no such account, or none set: the same answer), or not checked
 * because of a pause (`locked`). `lock` is the pause it caused or met.
 */
export async function auditPasswordRefused(
  db: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  refused: { email: string; user?: User; locked: boolean; lock: LockState },
): Promise<void> {
  const { email, lock } = refused;
  const context = auditContext(request, interaction);
  let user = refused.user;
  if (!user && refused.locked) {
    try {
      user = await findUserByEmail(db, email);
    } catch {
      // as in auditCodeRefused
    }
  }
  const userId = user?.id ?? null;
  const data: Record<string, unknown> = { email, reason: refused.locked ? 'locked' : 'wrong' };
  if (refused.locked && lock.locked) Object.assign(data, { scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds });
  await write(db, request, [
    { ...context, type: AuditType.PasswordSubmit, result: 'failure', userId, data },
    ...(refused.locked ? [] : lockoutEvent(context, userId, email, 'SignIn', 'Password', lock)),
  ]);
}

/** The password reset by code, in the transaction that sets it and ends the other sessions (errors propagate). */
export function recordPasswordReset(tx: Queryable, request: FastifyRequest, interaction: Pick<Interaction, 'params'>, user: User): Promise<void> {
  return recordAudit(
    tx,
    {
      ...auditContext(request, interaction),
      type: AuditType.ForgotPassword,
      result: 'success',
      userId: user.id,
      data: { email: user.email, passwordChanged: true, otherSessionsEnded: true },
    },
  );
}
