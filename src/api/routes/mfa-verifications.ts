import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { deleteMfaVerification, listMfaVerifications } from '../../mfa/admin.ts';
import { actorOf, errorResponses } from '../schemas.ts';

const TAG = 'Users';
const userParams = z.object({ userId: z.string().min(1).max(200).meta({ description: 'The user ID (the sub claim)' }) });
const verificationParams = userParams.extend({ verificationId: z.string().min(1).max(200).meta({ description: 'An ID from the list' }) });

const verificationSchema = z
  .object({
    id: z.string(),
    type: z.enum(['Totp', 'BackupCode', 'WebAuthn']),
    createdAt: z.string().meta({ description: 'ISO 8601' }),
    remainCodes: z.number().optional().meta({ description: 'BackupCode: how many codes are left unused' }),
    name: z.string().optional().meta({ description: 'WebAuthn: the name the person gave the passkey' }),
    lastUsedAt: z.string().nullable().optional().meta({ description: 'WebAuthn: ISO 8601, or null when never used' }),
  })
  .meta({ id: 'MfaVerification' });

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Logto's /api/users/{userId}/mfa-verifications: what second factors an account has, and removing
 * one (the recovery for a person who lost their authenticator and their backup codes). Each removal
 * is in the audit log (Management.User.MfaVerification.Delete) with the caller.
 */
export function mfaVerificationRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  api.get(
    '/users/:userId/mfa-verifications',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListUserMfaVerifications',
        summary: "List a user's second factors",
        description: 'The authenticator app (Totp), the backup codes (BackupCode) and the passkeys (WebAuthn). No secret or code is ever returned.',
        params: userParams,
        response: { 200: z.array(verificationSchema), ...errorResponses(404) },
      },
    },
    async (request) =>
      (await listMfaVerifications(db, request.params.userId)).map((entry) => ({
        id: entry.id,
        type: entry.type,
        createdAt: iso(entry.createdAt),
        ...(entry.type === 'BackupCode' && { remainCodes: entry.remainCodes }),
        ...(entry.type === 'WebAuthn' && { name: entry.name, lastUsedAt: entry.lastUsedAt === null ? null : iso(entry.lastUsedAt) }),
      })),
  );

  api.delete(
    '/users/:userId/mfa-verifications/:verificationId',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteUserMfaVerification',
        summary: "Remove one of a user's second factors",
        description:
          'Removing the Totp entry removes the backup codes with it. When the sign-in experience requires a second factor, the person sets up a new authenticator at their next sign-in.',
        params: verificationParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await deleteMfaVerification(db, request.params.userId, request.params.verificationId, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
