import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import {
  createApplication,
  deleteApplication,
  getApplication,
  listApplicationsPage,
  rotateApplicationSecret,
  updateApplication,
} from '../../management/applications.ts';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../../db/applications.ts';
import {
  actorOf,
  applicationSchema,
  applicationTypeSchema,
  errorResponses,
  fromLogtoType,
  pageOf,
  paginationQuery,
  setTotal,
  toApplication,
} from '../schemas.ts';

const TAG = 'Applications';
const idParams = z.object({ id: z.string().min(1).max(200).meta({ description: 'The App ID' }) });
const oidcClientMetadata = z.strictObject({
  redirectUris: z.array(z.string()).max(100, 'at most 100 redirect URIs'),
  postLogoutRedirectUris: z.array(z.string()).max(100, 'at most 100 post-logout redirect URIs'),
});

const createBody = z.strictObject({
  name: z.string({ error: 'name is required' }),
  type: applicationTypeSchema,
  oidcClientMetadata: oidcClientMetadata.optional(),
  isThirdParty: z.boolean().optional(),
  tokenEndpointAuthMethod: z
    .enum(TOKEN_ENDPOINT_AUTH_METHODS)
    .optional()
    .meta({ description: 'Sesame: how the app authenticates at /oidc/token (default client_secret_basic, or client_secret_post for MachineToMachine, what @logto/api sends)' }),
});

const updateBody = z.strictObject({
  name: z.string().optional(),
  oidcClientMetadata: oidcClientMetadata.partial().strict().optional(),
  isAdmin: z.boolean().optional().meta({ description: 'MachineToMachine apps: grant (true) or revoke (false) the management API' }),
});

const listQuery = paginationQuery.extend({
  types: z
    .union([applicationTypeSchema, z.array(applicationTypeSchema)])
    .optional()
    .meta({ description: 'Only apps of these types' }),
});

export function applicationRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  api.get(
    '/applications',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListApplications',
        summary: 'List applications',
        querystring: listQuery,
        response: { 200: z.array(applicationSchema), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const { types } = request.query;
      const filter = types === undefined ? {} : { types: (Array.isArray(types) ? types : [types]).map(fromLogtoType) };
      const { rows, total } = await listApplicationsPage(db, filter, pageOf(request.query));
      setTotal(reply, total);
      return rows.map(toApplication);
    },
  );

  api.post(
    '/applications',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateApplication',
        summary: 'Create an application',
        description: 'Traditional: a web app that signs people in (needs redirect URIs). MachineToMachine: a program using client_credentials; grant it the management API with PATCH isAdmin=true.',
        body: createBody,
        response: { 200: applicationSchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      const { body } = request;
      const app = await createApplication(
        db,
        {
          name: body.name,
          type: fromLogtoType(body.type),
          redirectUris: body.oidcClientMetadata?.redirectUris ?? [],
          postLogoutRedirectUris: body.oidcClientMetadata?.postLogoutRedirectUris ?? [],
          isThirdParty: body.isThirdParty ?? false,
          tokenEndpointAuthMethod: body.tokenEndpointAuthMethod,
        },
        actorOf(request),
      );
      return toApplication(app);
    },
  );

  api.get(
    '/applications/:id',
    { schema: { tags: [TAG], operationId: 'GetApplication', summary: 'Get an application', params: idParams, response: { 200: applicationSchema, ...errorResponses(404) } } },
    async (request) => toApplication(await getApplication(db, request.params.id)),
  );

  api.patch(
    '/applications/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateApplication',
        summary: 'Update an application',
        params: idParams,
        body: updateBody,
        response: { 200: applicationSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const { body } = request;
      const app = await updateApplication(
        db,
        request.params.id,
        {
          name: body.name,
          redirectUris: body.oidcClientMetadata?.redirectUris,
          postLogoutRedirectUris: body.oidcClientMetadata?.postLogoutRedirectUris,
          managementAccess: body.isAdmin,
        },
        actorOf(request),
      );
      return toApplication(app);
    },
  );

  api.delete(
    '/applications/:id',
    { schema: { tags: [TAG], operationId: 'DeleteApplication', summary: 'Delete an application', params: idParams, response: { 204: z.null(), ...errorResponses(404) } } },
    async (request, reply) => {
      await deleteApplication(db, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/applications/:id/secret',
    {
      schema: {
        tags: [TAG],
        operationId: 'RotateApplicationSecret',
        summary: 'Replace the App Secret (Sesame)',
        description: 'Gives the app a new App Secret, in the response only. The old one stops working at once for the management API and within 2 s at the token endpoint. Sesame keeps one secret per app (no named secrets as in Logto).',
        params: idParams,
        response: { 200: applicationSchema, ...errorResponses(404) },
      },
    },
    async (request) => toApplication(await rotateApplicationSecret(db, request.params.id, actorOf(request))),
  );
}
