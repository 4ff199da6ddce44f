import type { FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import type { Queryable } from '../db/database.ts';
import type { Passkey } from '../db/passkeys.ts';
import type { User } from '../db/users.ts';
import { AuditType, MAX_USER_AGENT, recordAudit, type AuditEvent } from '../audit/log.ts';
import { auditContext, type SignInRecord } from '../audit/sign-in.ts';
import { clientIp } from '../lib/request.ts';
import type { LockState } from '../sign-in/lockout.ts';
import type { AuthenticationRefusal, RegistrationRefusal } from './webauthn.ts';

/**
 * The passkeys' audit events. Never a challenge, a credential ID, a public key or a signature: the
 * records name the passkey by Sesame's own id and its name. Like src/audit/sign-in.ts, a record
 * that cannot be written is logged and the request goes on.
 */
export const PasskeyAuditType = {
  /** A passkey answer at sign-in that was refused (Logto's key for a WebAuthn verification). */
  SignInSubmit: 'Interaction.SignIn.Verification.WebAuthn.Submit',
  /** A person added, renamed or removed a passkey on the account page (not Logto keys: Logto has no such page). */
  Create: 'Account.Passkey.Create',
  Update: 'Account.Passkey.Update',
  Delete: 'Account.Passkey.Delete',
} as const;

async function write(db: Queryable, request: FastifyRequest, events: AuditEvent[]): Promise<void> {
  try {
    for (const event of events) await recordAudit(db, event);
  } catch (error) {
    request.log.error({ err: error, audit: events.map((event) => event.type) }, 'audit log: could not record the event');
  }
}

const describe = (passkey: Passkey) => ({ passkeyId: passkey.id, passkeyName: passkey.name, deviceType: passkey.deviceType, backedUp: passkey.backedUp });

/** What a passkey sign-in records once complete, with whether the authenticator verified the person (UV). */
export function passkeySignInRecord(passkey: Passkey, userVerified: boolean): SignInRecord {
  return { event: 'SignIn', data: { method: 'Passkey', userVerified, ...describe(passkey) }, emailVerified: false };
}

/** A refused passkey answer at sign-in; `lock` is the pause the failure caused (or met, when `locked`). */
export function auditPasskeyRefused(
  db: Queryable,
  request: FastifyRequest,
  interaction: Pick<Interaction, 'params'>,
  refused: { reason: AuthenticationRefusal | 'locked'; user?: User; passkey?: Passkey; lock?: LockState },
) {
  const context = auditContext(request, interaction);
  const { reason, user, passkey, lock } = refused;
  const data: Record<string, unknown> = { reason, ...(user && { email: user.email }), ...(passkey && describe(passkey)) };
  if (lock?.locked) Object.assign(data, { scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds });
  const events: AuditEvent[] = [{ ...context, type: PasskeyAuditType.SignInSubmit, result: 'failure', userId: user?.id ?? null, data }];
  if (reason !== 'locked' && lock?.locked && user) {
    events.push({
      ...context,
      type: AuditType.Lockout,
      result: 'failure',
      userId: user.id,
      data: { email: user.email, event: 'SignIn', method: 'Passkey', scope: lock.scope, retryAfterSeconds: lock.retryAfterSeconds },
    });
  }
  return write(db, request, events);
}

/** What the account page did with a passkey (success), or a refused registration (failure). */
export function auditAccountPasskey(
  db: Queryable,
  request: FastifyRequest,
  user: User,
  change: { type: (typeof PasskeyAuditType)['Create' | 'Update' | 'Delete']; passkey?: Passkey; refused?: RegistrationRefusal; data?: Record<string, unknown> },
) {
  const agent = request.headers['user-agent'];
  return write(db, request, [
    {
      type: change.type,
      result: change.refused ? 'failure' : 'success',
      userId: user.id,
      applicationId: null,
      actor: `user:${user.id}`,
      ip: clientIp(request),
      userAgent: typeof agent === 'string' && agent ? agent.slice(0, MAX_USER_AGENT) : null,
      data: { ...(change.passkey && describe(change.passkey)), ...(change.refused && { reason: change.refused }), ...change.data },
    },
  ]);
}
