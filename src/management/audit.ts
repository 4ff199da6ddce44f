import type { Queryable } from '../db/database.ts';
import { recordAudit } from '../audit/log.ts';

/**
 * Who makes a management change: the `sesame` command on the server, an m2m app through /api, or an
 * administrator through /api with the admin console's token (`user:<user ID>`).
 */
export interface ManagementActor {
  actor: 'cli' | `app:${string}` | `user:${string}`;
  ip?: string | null;
  userAgent?: string | null;
}

export const CLI: ManagementActor = Object.freeze({ actor: 'cli' });

export const apiActor = (applicationId: string, ip: string | null, userAgent: string | null): ManagementActor => ({
  actor: `app:${applicationId}`,
  ip,
  userAgent,
});

export const administratorActor = (userId: string, ip: string | null, userAgent: string | null): ManagementActor => ({
  actor: `user:${userId}`,
  ip,
  userAgent,
});

/**
 * Records one management change (type `Management.<what>`), in the caller's transaction so that the
 * change and its record are written together or not at all. `data` names what changed, never a
 * secret, password or token.
 */
export async function auditChange(
  tx: Queryable,
  who: ManagementActor,
  what: string,
  subject: { userId?: string; applicationId?: string },
  data?: Record<string, unknown>,
): Promise<void> {
  await recordAudit(tx, {
    type: `Management.${what}`,
    result: 'success',
    actor: who.actor,
    userId: subject.userId ?? null,
    applicationId: subject.applicationId ?? null,
    ip: who.ip ?? null,
    userAgent: who.userAgent ?? null,
    ...(data && { data }),
  });
}
