import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { KEY_TYPES, listKeys, rotateKeysOf } from '../../management/signing-keys.ts';
import { actorOf, errorResponses } from '../schemas.ts';

const TAG = 'Keys';
const keyType = z.enum(KEY_TYPES as [string, ...string[]], { error: `keyType must be one of ${KEY_TYPES.join(', ')}` }).transform((value) => value as (typeof KEY_TYPES)[number]);
const params = z.object({ keyType: keyType.meta({ description: 'private-keys sign tokens (published at /oidc/jwks); cookie-keys sign cookies' }) });

const keySchema = z
  .object({
    id: z.string().meta({ description: "A signing key's kid; a cookie key's ID (never the key itself)" }),
    createdAt: z.number(),
    signingKeyAlgorithm: z.enum(['RSA', 'EC']).optional(),
    status: z.enum(['Next', 'Current', 'Previous']).meta({ description: 'Next: published, signs from effectiveAt; Current: signs; Previous: still verifies' }),
    effectiveAt: z.number().optional(),
  })
  .meta({ id: 'OidcKey' });

export function keyRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db, config } = deps;

  api.get(
    '/configs/oidc/:keyType',
    {
      schema: { tags: [TAG], operationId: 'GetOidcKeys', summary: 'List keys', params, response: { 200: z.array(keySchema), ...errorResponses(400) } },
    },
    async (request) => listKeys(db, request.params.keyType, config.signingKeyGraceMs, deps.now()),
  );

  api.post(
    '/configs/oidc/:keyType/rotate',
    {
      schema: {
        tags: [TAG],
        operationId: 'RotateOidcKeys',
        summary: 'Rotate keys',
        description:
          'Adds new keys and retires the old ones, which keep verifying for 30 days. Every instance sees them within a second; a new signing key (RS256 and ES256 together) signs after SIGNING_KEY_GRACE_SECONDS, a new cookie key after 5 s.',
        params,
        // Optional: a POST without a body arrives as null.
        body: z.strictObject({ signingKeyAlgorithm: z.enum(['RSA', 'EC']).optional().meta({ description: 'Accepted for Logto compatibility: Sesame always rotates both' }) }).nullish(),
        response: { 200: z.array(keySchema), ...errorResponses(400) },
      },
    },
    async (request) => {
      const at = deps.now();
      await rotateKeysOf(db, request.params.keyType, actorOf(request), at);
      return listKeys(db, request.params.keyType, config.signingKeyGraceMs, at);
    },
  );
}
