import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Application, ApplicationType } from '../db/applications.ts';
import type { User } from '../db/users.ts';
import type { ApiResource, ResourceScope } from '../db/resources.ts';
import { administratorActor, apiActor, type ManagementActor } from '../management/audit.ts';

/**
 * The shapes of the management API, Logto's where Sesame has the concept: what @logto/api and
 * Logto's OpenAPI document expect. Sesame has one tenant, `default`.
 */
export const TENANT_ID = 'default';

export const errorSchema = z
  .object({
    code: z.string().meta({ description: 'A stable, Logto-style error code, e.g. guard.invalid_input or entity.not_found' }),
    message: z.string().meta({ description: 'What went wrong, for a person' }),
    data: z.object({ field: z.string() }).optional().meta({ description: 'For validation errors: the field at fault' }),
    error: z.string().optional(),
  })
  .meta({ id: 'Error' });

/** The error responses a route documents (each has the same JSON shape). */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 422)[]) {
  const all = new Set([401, 403, ...statuses]);
  return Object.fromEntries([...all].map((status) => [status, errorSchema]));
}

// ---------- pagination (Logto: page from 1, page_size, Total-Number header) ----------

export const MAX_PAGE_SIZE = 100;

export const paginationQuery = z.object({
  page: z.coerce
    .number({ error: 'page must be a whole number from 1' })
    .int('page must be a whole number from 1')
    .min(1, 'page must be a whole number from 1')
    .default(1)
    .meta({ description: 'Page number, from 1' }),
  page_size: z.coerce
    .number({ error: `page_size must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
    .int(`page_size must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .min(1, `page_size must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .max(MAX_PAGE_SIZE, `page_size must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .default(20)
    .meta({ description: `Entries per page (1 to ${MAX_PAGE_SIZE}, default 20)` }),
});

export const pageOf = (query: { page: number; page_size: number }) => ({ limit: query.page_size, offset: (query.page - 1) * query.page_size });

/** Logto's pagination header: how many entries match in all. */
export function setTotal(reply: FastifyReply, total: number): void {
  reply.header('total-number', String(total));
}

// ---------- who is calling ----------

/**
 * The audit actor of an API request: the m2m app its token was issued to, or the administrator the
 * admin console's token was issued for.
 */
export function actorOf(request: FastifyRequest): ManagementActor {
  const caller = request.managementCaller;
  if (!caller) throw new Error('management API route without an authenticated caller');
  const agent = typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null;
  return caller.userId ? administratorActor(caller.userId, request.ip, agent) : apiActor(caller.applicationId, request.ip, agent);
}

declare module 'fastify' {
  interface FastifyRequest {
    managementCaller?: { applicationId: string; userId?: string };
  }
}

// ---------- applications ----------

const LOGTO_TYPES = { traditional: 'Traditional', machine_to_machine: 'MachineToMachine' } as const satisfies Record<ApplicationType, string>;
export const applicationTypeSchema = z.enum(['Traditional', 'MachineToMachine'], {
  error: (issue) => `type must be Traditional or MachineToMachine (Sesame has no Native, SPA, Protected or SAML apps), got ${JSON.stringify(issue.input)}`,
});
export const fromLogtoType = (type: z.output<typeof applicationTypeSchema>): ApplicationType =>
  type === 'MachineToMachine' ? 'machine_to_machine' : 'traditional';

export const applicationSchema = z
  .object({
    tenantId: z.string(),
    id: z.string().meta({ description: 'The App ID (OIDC client_id)' }),
    name: z.string(),
    secret: z.string().meta({ description: 'The App Secret (client_secret)' }),
    description: z.string().nullable(),
    type: applicationTypeSchema,
    oidcClientMetadata: z.object({ redirectUris: z.array(z.string()), postLogoutRedirectUris: z.array(z.string()) }),
    customClientMetadata: z.object({}),
    protectedAppMetadata: z.null(),
    customData: z.record(z.string(), z.unknown()),
    isThirdParty: z.boolean(),
    appLevelAccessControlEnabled: z.boolean(),
    isAdmin: z.boolean().meta({ description: 'Machine-to-machine apps: may get tokens for the management API' }),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']).meta({ description: 'Sesame: the one way this app authenticates at /oidc/token' }),
    createdAt: z.number(),
  })
  .meta({ id: 'Application' });

export function toApplication(app: Application): z.output<typeof applicationSchema> {
  return {
    tenantId: TENANT_ID,
    id: app.id,
    name: app.name,
    secret: app.secret,
    description: null,
    type: LOGTO_TYPES[app.type],
    oidcClientMetadata: { redirectUris: app.redirectUris, postLogoutRedirectUris: app.postLogoutRedirectUris },
    customClientMetadata: {},
    protectedAppMetadata: null,
    customData: {},
    isThirdParty: app.isThirdParty,
    appLevelAccessControlEnabled: false,
    isAdmin: Boolean(app.managementAccess),
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    createdAt: app.createdAt,
  };
}

// ---------- users ----------

export const customDataSchema = z.record(z.string(), z.unknown()).meta({ description: 'Arbitrary JSON object (at most 16 KiB, 32 levels)' });

export const userSchema = z
  .object({
    id: z.string(),
    username: z.string().nullable(),
    primaryEmail: z.string().nullable(),
    primaryPhone: z.null(),
    name: z.string().nullable(),
    avatar: z.null(),
    customData: customDataSchema,
    identities: z.object({}),
    lastSignInAt: z.number().nullable(),
    createdAt: z.number(),
    updatedAt: z.number(),
    profile: z.object({}),
    applicationId: z.null(),
    isSuspended: z.boolean(),
    hasPassword: z.boolean(),
    isAdmin: z.boolean().meta({ description: 'Sesame: holds the admin role (may sign in to the admin console at /console)' }),
  })
  .meta({ id: 'User' });

export function toUser(user: User): z.output<typeof userSchema> {
  return {
    id: user.id,
    username: user.username,
    primaryEmail: user.email,
    primaryPhone: null,
    name: user.name,
    avatar: null,
    customData: user.customData,
    identities: {},
    lastSignInAt: user.lastSignInAt,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
    profile: {},
    applicationId: null,
    isSuspended: Boolean(user.isSuspended),
    hasPassword: user.passwordHash !== null,
    isAdmin: Boolean(user.isAdmin),
  };
}

// ---------- resources ----------

export const scopeSchema = z
  .object({
    tenantId: z.string(),
    id: z.string(),
    resourceId: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.number(),
  })
  .meta({ id: 'Scope' });

export const toScope = (scope: ResourceScope): z.output<typeof scopeSchema> => ({ tenantId: TENANT_ID, ...scope });

export const resourceSchema = z
  .object({
    tenantId: z.string(),
    id: z.string(),
    name: z.string(),
    indicator: z.string(),
    isDefault: z.boolean(),
    accessTokenTtl: z.number(),
    scopes: z.array(scopeSchema).optional().meta({ description: 'With includeScopes=true' }),
  })
  .meta({ id: 'Resource' });

export function toResource(resource: ApiResource, scopes?: ResourceScope[]): z.output<typeof resourceSchema> {
  return {
    tenantId: TENANT_ID,
    id: resource.id,
    name: resource.name,
    indicator: resource.indicator,
    isDefault: false,
    accessTokenTtl: resource.accessTokenTtl,
    ...(scopes && { scopes: scopes.map(toScope) }),
  };
}
