import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import type { Passkey } from '../../db/passkeys.ts';
import { listUserPasskeys, removeUserPasskey } from '../../management/passkeys.ts';
import { actorOf, errorResponses } from '../schemas.ts';

const TAG = 'Users';
const userParams = z.object({ userId: z.string().min(1).max(200).meta({ description: 'The user ID (the sub claim)' }) });
const passkeyParams = userParams.extend({ id: z.string().min(1).max(200).meta({ description: 'The passkey ID (from the list)' }) });

const passkeySchema = z
  .object({
    id: z.string(),
    name: z.string().meta({ description: 'The name the person gave it on the account page' }),
    deviceType: z.enum(['singleDevice', 'multiDevice']).meta({ description: 'multiDevice: backup eligible (a synced passkey)' }),
    backedUp: z.boolean().meta({ description: 'Backed up (synced) when last used' }),
    transports: z.array(z.string()),
    createdAt: z.number().int().meta({ description: 'Epoch ms' }),
    lastUsedAt: z.number().int().nullable().meta({ description: 'Epoch ms of the last sign-in with it; null: never used' }),
  })
  .meta({ id: 'Passkey' });

const toPasskey = (passkey: Passkey): z.infer<typeof passkeySchema> => ({
  id: passkey.id,
  name: passkey.name,
  deviceType: passkey.deviceType,
  backedUp: passkey.backedUp,
  transports: passkey.transports,
  createdAt: passkey.createdAt,
  lastUsedAt: passkey.lastUsedAt,
});

/** A user's passkeys (issue 17): no credential material, only what tells them apart. */
export function passkeyRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  api.get(
    '/users/:userId/passkeys',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListUserPasskeys',
        summary: "List a user's passkeys",
        description: 'Oldest first. The person adds, renames and removes them on their account page (/account).',
        params: userParams,
        response: { 200: z.array(passkeySchema), ...errorResponses(404) },
      },
    },
    async (request) => (await listUserPasskeys(db, request.params.userId)).map(toPasskey),
  );

  api.delete(
    '/users/:userId/passkeys/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteUserPasskey',
        summary: "Remove a user's passkey",
        description: 'It no longer signs in. Recorded in the audit log (Management.User.Passkey.Delete).',
        params: passkeyParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await removeUserPasskey(db, request.params.userId, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
