import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import {
  createResource,
  createScope,
  deleteResource,
  deleteScope,
  getResource,
  listResourcesPage,
  listScopesPage,
  updateResource,
  updateScope,
} from '../../management/resources.ts';
import { listScopes } from '../../db/resources.ts';
import { actorOf, errorResponses, pageOf, paginationQuery, resourceSchema, scopeSchema, setTotal, toResource, toScope } from '../schemas.ts';

const TAG = 'Resources';
const id = z.string().min(1).max(200);
const resourceParams = z.object({ id: id.meta({ description: 'The resource ID (not its indicator)' }) });
const scopesParams = z.object({ resourceId: id });
const scopeParams = z.object({ resourceId: id, scopeId: id });
const truthy = z
  .enum(['true', '1', 'yes', 'false', '0', 'no'], { error: 'includeScopes must be true or false' })
  .transform((value) => ['true', '1', 'yes'].includes(value));

export function resourceRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;
  const endpoint = deps.config.endpoint;

  api.get(
    '/resources',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListResources',
        summary: 'List API resources',
        description: "Registered API resources. The management API itself is built in and not listed.",
        querystring: paginationQuery.extend({ includeScopes: truthy.optional() }),
        response: { 200: z.array(resourceSchema), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const { rows, total } = await listResourcesPage(db, pageOf(request.query));
      setTotal(reply, total);
      if (!request.query.includeScopes) return rows.map((resource) => toResource(resource));
      return Promise.all(rows.map(async (resource) => toResource(resource, await listScopes(db, resource.id))));
    },
  );

  api.post(
    '/resources',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateResource',
        summary: 'Register an API resource',
        description: '422 when the indicator is taken. Add scopes with POST /api/resources/{resourceId}/scopes.',
        body: z.strictObject({
          name: z.string({ error: 'name is required' }),
          indicator: z.string({ error: 'indicator is required (an absolute URI such as https://api.example.com)' }),
          accessTokenTtl: z.number().optional().meta({ description: 'Seconds, 60 to 86400 (default 3600)' }),
        }),
        response: { 200: resourceSchema, ...errorResponses(400, 422) },
      },
    },
    async (request) => toResource(await createResource(db, request.body, { endpoint, who: actorOf(request), now: deps.now() }), []),
  );

  api.get(
    '/resources/:id',
    { schema: { tags: [TAG], operationId: 'GetResource', summary: 'Get an API resource', params: resourceParams, response: { 200: resourceSchema, ...errorResponses(404) } } },
    async (request) => toResource(await getResource(db, request.params.id)),
  );

  api.patch(
    '/resources/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateResource',
        summary: 'Update an API resource',
        description: 'The indicator cannot change.',
        params: resourceParams,
        body: z.strictObject({ name: z.string().optional(), accessTokenTtl: z.number().optional() }),
        response: { 200: resourceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toResource(await updateResource(db, request.params.id, request.body, actorOf(request))),
  );

  api.delete(
    '/resources/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteResource',
        summary: 'Delete an API resource',
        description: 'Removes the resource and its scopes. Tokens already issued for it stay valid until they expire.',
        params: resourceParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await deleteResource(db, { id: request.params.id }, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/resources/:resourceId/scopes',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListResourceScopes',
        summary: "List a resource's scopes",
        params: scopesParams,
        querystring: paginationQuery,
        response: { 200: z.array(scopeSchema), ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const { rows, total } = await listScopesPage(db, request.params.resourceId, pageOf(request.query));
      setTotal(reply, total);
      return rows.map(toScope);
    },
  );

  api.post(
    '/resources/:resourceId/scopes',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateResourceScope',
        summary: 'Add a scope to a resource',
        description: '422 when the resource already has a scope of that name.',
        params: scopesParams,
        body: z.strictObject({ name: z.string({ error: 'name is required' }), description: z.string().nullable().optional() }),
        response: { 201: scopeSchema, ...errorResponses(400, 404, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(toScope(await createScope(db, request.params.resourceId, request.body, actorOf(request), deps.now()))),
  );

  api.patch(
    '/resources/:resourceId/scopes/:scopeId',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateResourceScope',
        summary: 'Rename or describe a scope',
        params: scopeParams,
        body: z.strictObject({ name: z.string().optional(), description: z.string().nullable().optional() }),
        response: { 200: scopeSchema, ...errorResponses(400, 404, 422) },
      },
    },
    async (request) => toScope(await updateScope(db, request.params.resourceId, request.params.scopeId, request.body, actorOf(request))),
  );

  api.delete(
    '/resources/:resourceId/scopes/:scopeId',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteResourceScope',
        summary: 'Remove a scope',
        params: scopeParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await deleteScope(db, request.params.resourceId, request.params.scopeId, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
