import type { FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import type { Queryable } from '../db/database.ts';
import { AuditType, recordAudit, type AuditEvent } from '../audit/log.ts';
import { auditContext } from '../audit/sign-in.ts';
import type { LockState } from '../sign-in/lockout.ts';

/**
 * The second factor's audit events (Logto's MFA verification keys): how the second step went. The
 * sign-in's own record (Interaction.SignIn.Submit, or Register) is written once this step passes,
 * with the first factor's method (kit.completeSignIn, SignInRecord). As for the other sign-in
 * events, a record that cannot be written is logged and the request goes on.
 */
export const MfaAuditType = {
  /** A code from the authenticator app (success, or failure with the reason). */
  Totp: 'Interaction.SignIn.MfaVerification.Totp.Submit',
  BackupCode: 'Interaction.SignIn.MfaVerification.BackupCode.Submit',
  /** An authenticator set up (at sign-in when required, or on the account page). */
  TotpCreate: 'Interaction.SignIn.MfaVerification.Totp.Create',
  /** On the account page (not Logto keys: Logto has no such page): set up, new backup codes, turned off. */
  AccountTotpCreate: 'Account.Mfa.Totp.Create',
  AccountBackupCodesCreate: 'Account.Mfa.BackupCode.Create',
  AccountDisable: 'Account.Mfa.Delete',
} as const;

export type SecondFactorMethod = 'totp' | 'backup';

async function write(db: Queryable, request: FastifyRequest, events: AuditEvent[]): Promise<void> {
  try {
    for (const event of events) await recordAudit(db, event);
  } catch (error) {
    request.log.error({ err: error, audit: events.map((event) => event.type) }, 'audit log: could not record the event');
  }
}

/** A second-factor check at sign-in: passed, refused (wrong, reused) or not made (locked). */
export async function auditSecondFactor(
  db: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  outcome: { userId: string; email: string; method: SecondFactorMethod; result: 'ok' | 'wrong' | 'reused' | 'locked'; lock?: LockState },
): Promise<void> {
  const context = auditContext(request, interaction);
  const { userId, email, method, result, lock } = outcome;
  const events: AuditEvent[] = [
    {
      ...context,
      type: method === 'totp' ? MfaAuditType.Totp : MfaAuditType.BackupCode,
      result: result === 'ok' ? 'success' : 'failure',
      userId,
      data: { email, ...(result !== 'ok' && { reason: result }) },
    },
  ];
  // A failure that started a pause: the same lockout record as a wrong email code or password.
  if (result !== 'locked' && lock?.locked) {
    const data = { email, event: 'SignIn', method: method === 'totp' ? 'Totp' : 'BackupCode', scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds };
    events.push({ ...context, type: AuditType.Lockout, result: 'failure', userId, data });
  }
  await write(db, request, events);
}

/** An authenticator app set up at sign-in. */
export async function auditTotpCreated(db: Queryable, request: FastifyRequest, interaction: Pick<Interaction, 'params'>, user: { id: string; email: string }): Promise<void> {
  await write(db, request, [{ ...auditContext(request, interaction), type: MfaAuditType.TotpCreate, result: 'success', userId: user.id, data: { email: user.email } }]);
}

/** A change a person made on their account page. */
export async function auditAccountMfa(
  db: Queryable,
  request: FastifyRequest,
  user: { id: string; email: string },
  type: (typeof MfaAuditType)['AccountTotpCreate' | 'AccountBackupCodesCreate' | 'AccountDisable'],
): Promise<void> {
  await write(db, request, [{ ...auditContext(request, { params: {} }), type, result: 'success', userId: user.id, data: { email: user.email } }]);
}
