import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import {
  createUser,
  deleteUser,
  getUser,
  listUsersPage,
  mergeUserCustomData,
  revokeUserSessions,
  setSuspended,
  updateUserProfile,
} from '../../management/users.ts';
import { setAdministrator } from '../../management/admins.ts';
import { listUserSessions } from '../../management/user-sessions.ts';
import { actorOf, customDataSchema, errorResponses, pageOf, paginationQuery, setTotal, toUser, userSchema } from '../schemas.ts';

const TAG = 'Users';
const userParams = z.object({ userId: z.string().min(1).max(200).meta({ description: 'The user ID (the sub claim)' }) });

const createBody = z.strictObject({
  primaryEmail: z.string({ error: 'primaryEmail is required: Sesame accounts are keyed by their email address' }),
  username: z.string().optional(),
  name: z.string().optional(),
  password: z.string().optional().meta({ description: 'Plain text; checked against the sign-in experience password policy, stored as argon2id' }),
  customData: customDataSchema.optional(),
});

const updateBody = z.strictObject({
  primaryEmail: z.string().optional(),
  username: z.string().nullable().optional(),
  name: z.string().nullable().optional(),
  customData: customDataSchema.optional().meta({ description: 'Replaces the whole object (PATCH .../custom-data merges)' }),
});

const userSessionSchema = z
  .object({
    id: z.string().meta({ description: 'The session uid (sessionUid on the refresh tokens issued in it)' }),
    active: z.boolean().meta({ description: 'false: the browser session ended, but an app still holds a refresh token from it' }),
    signedInAt: z.number().nullable(),
    expiresAt: z.number().nullable().meta({ description: 'When the browser session ends (ms); null for an ended session' }),
    lastActiveAt: z.number().nullable().meta({ description: 'The newest sign-in or token refresh in this session (ms)' }),
    signInMethods: z.array(z.string()).meta({ description: "How the person proved who they are (amr: 'email', 'pwd')" }),
    ip: z.string().nullable().meta({ description: "From the sign-in's audit record, while the audit log keeps it" }),
    userAgent: z.string().nullable().meta({ description: "From the sign-in's audit record, while the audit log keeps it" }),
    applications: z.array(
      z.object({
        id: z.string(),
        name: z.string().nullable().meta({ description: 'null when the app was deleted' }),
        refreshTokenExpiresAt: z.number().nullable().meta({ description: 'When the refresh token the app holds expires; null when it holds none' }),
      }),
    ),
  })
  .meta({ id: 'UserSession' });

const listQuery = paginationQuery.extend({
  search: z
    .string()
    .max(256, 'search must be at most 256 characters')
    .optional()
    .meta({ description: 'Case-insensitive text in the email, name, username or ID; % is a wildcard' }),
});

export function userRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  api.get(
    '/users',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListUsers',
        summary: 'List users',
        description: 'Oldest first. The Total-Number header says how many match in all.',
        querystring: listQuery,
        response: { 200: z.array(userSchema), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const { rows, total } = await listUsersPage(db, request.query.search, pageOf(request.query));
      setTotal(reply, total);
      return rows.map(toUser);
    },
  );

  api.post(
    '/users',
    {
      schema: {
        tags: [TAG],
        operationId: 'CreateUser',
        summary: 'Create a user',
        description: 'The email counts as verified. 422 when the email or username is taken.',
        body: createBody,
        response: { 200: userSchema, ...errorResponses(400, 422) },
      },
    },
    async (request) => toUser(await createUser(db, request.body, { passwords: deps.passwords, now: deps.now(), codeTtlMinutes: deps.config.codeTtlMinutes }, actorOf(request))),
  );

  api.get(
    '/users/:userId',
    { schema: { tags: [TAG], operationId: 'GetUser', summary: 'Get a user', params: userParams, response: { 200: userSchema, ...errorResponses(404) } } },
    async (request) => toUser(await getUser(db, request.params.userId)),
  );

  api.patch(
    '/users/:userId',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateUser',
        summary: 'Update a user',
        params: userParams,
        body: updateBody,
        response: { 200: userSchema, ...errorResponses(400, 404, 422) },
      },
    },
    async (request) => toUser(await updateUserProfile(db, request.params.userId, request.body, actorOf(request), deps.now())),
  );

  api.delete(
    '/users/:userId',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteUser',
        summary: 'Delete a user',
        description: 'Removes the account with every session, grant and token it holds.',
        params: userParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await deleteUser(db, await getUser(db, request.params.userId), actorOf(request));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/users/:userId/custom-data',
    { schema: { tags: [TAG], operationId: 'ListUserCustomData', summary: "Get a user's custom data", params: userParams, response: { 200: customDataSchema, ...errorResponses(404) } } },
    async (request) => (await getUser(db, request.params.userId)).customData,
  );

  api.patch(
    '/users/:userId/custom-data',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateUserCustomData',
        summary: "Merge into a user's custom data",
        description: 'Top-level keys of customData replace those stored; others are kept.',
        params: userParams,
        body: z.strictObject({ customData: customDataSchema }),
        response: { 200: customDataSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => mergeUserCustomData(db, request.params.userId, request.body.customData, actorOf(request), deps.now()),
  );

  api.patch(
    '/users/:userId/is-suspended',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateUserIsSuspended',
        summary: 'Suspend or restore a user',
        description: 'A suspended user cannot sign in; suspending also ends every session and token they hold.',
        params: userParams,
        body: z.strictObject({ isSuspended: z.boolean({ error: 'isSuspended must be true or false' }) }),
        response: { 200: userSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toUser(await setSuspended(db, request.params.userId, request.body.isSuspended, actorOf(request), deps.now())),
  );

  api.patch(
    '/users/:userId/is-admin',
    {
      schema: {
        tags: [TAG],
        operationId: 'UpdateUserIsAdmin',
        summary: 'Grant or take back the admin role (Sesame)',
        description:
          'An administrator may sign in to the admin console at /console. Taking the role back ends their console sessions, and the console tokens they hold are refused from their next call. Same as `sesame admin add|remove`.',
        params: userParams,
        body: z.strictObject({ isAdmin: z.boolean({ error: 'isAdmin must be true or false' }) }),
        response: { 200: userSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toUser(await setAdministrator(db, request.params.userId, request.body.isAdmin, actorOf(request), deps.now())),
  );

  api.get(
    '/users/:userId/sessions',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListUserSessions',
        summary: "List a user's sessions (Sesame)",
        description:
          'Their browser sessions and the refresh tokens apps hold for them, grouped by the sign-in they came from, most recently active first. Browser and IP come from the audit log.',
        params: userParams,
        response: { 200: z.array(userSessionSchema), ...errorResponses(404) },
      },
    },
    async (request) => listUserSessions(db, request.params.userId, deps.now()),
  );

  api.delete(
    '/users/:userId/sessions',
    {
      schema: {
        tags: [TAG],
        operationId: 'DeleteUserSessions',
        summary: 'Sign a user out everywhere (Sesame)',
        description: 'Ends every session, grant and refresh token of the user. JWT access tokens already issued stay valid until they expire (at most their resource\'s TTL).',
        params: userParams,
        response: { 204: z.null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await revokeUserSessions(db, request.params.userId, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
