import { z } from 'zod';
import type { Database, Queryable } from '../db/database.ts';
import {
  countResources,
  countScopes,
  deleteResource as deleteResourceByIndicator,
  deleteResourceById,
  deleteScope as deleteScopeRow,
  findResourceById,
  findResourceByIndicator,
  findScope,
  findScopeByName,
  insertResource,
  insertScope,
  listResources,
  listScopes,
  updateResource as updateResourceRow,
  updateScope as updateScopeRow,
  type ApiResource,
  type ResourceScope,
} from '../db/resources.ts';
import { randomId } from '../lib/random.ts';
import { displayName, firstIssue, hasWhitespaceOrControl, quoteInput } from '../lib/validation.ts';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { isManagementIndicator, LOGTO_DEFAULT_TENANT_INDICATOR } from './management-resource.ts';
import { OIDC_SCOPES } from '../oidc/account.ts';

export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
export const MIN_ACCESS_TOKEN_TTL = 60;
export const MAX_ACCESS_TOKEN_TTL = 24 * 60 * 60;
export const MAX_SCOPES = 100;

/** RFC 6749 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const indicatorSchema = z
  .string({ error: 'indicator is required' })
  .min(1, 'indicator is required')
  .max(256, 'indicator must be at most 256 characters')
  // Whitespace is checked explicitly because URL.canParse skips leading/trailing spaces and inner
  // tabs and line breaks: the indicator is stored as typed and compared exactly with the
  // `resource` apps send.
  .superRefine((value, ctx) => {
    if (!URL.canParse(value.replace(/[\s\p{Cc}\p{Cf}]/gu, ''))) {
      ctx.addIssue({ code: 'custom', message: `indicator must be an absolute URI such as https://api.example.com, got ${quoteInput(value)}` });
    } else if (hasWhitespaceOrControl(value)) {
      ctx.addIssue({ code: 'custom', message: `indicator must not contain spaces, tabs, line breaks or control characters, got ${quoteInput(value)}` });
    }
  })
  .refine((value) => !value.includes('#'), { error: 'indicator must not contain a #fragment' });

const scopeName = z
  .string()
  .max(128, 'a scope must be at most 128 characters')
  .regex(SCOPE_TOKEN, { error: (issue) => `scope ${quoteInput(issue.input)} must be one word of printable characters (no spaces, quotes or backslashes)` })
  .refine((scope) => !(OIDC_SCOPES as readonly string[]).includes(scope), {
    error: (issue) => `scope ${quoteInput(issue.input)} is reserved for OpenID Connect; pick another name`,
  });

export const newResourceSchema = z.object({
  indicator: indicatorSchema,
  name: displayName(),
  scopes: z
    .array(scopeName)
    .max(MAX_SCOPES, `at most ${MAX_SCOPES} scopes per resource`)
    .refine((scopes) => new Set(scopes).size === scopes.length, { error: 'each scope may be listed only once' })
    .default([]),
  accessTokenTtl: z
    .number({ error: 'access token TTL must be a number of seconds' })
    .int('access token TTL must be a whole number of seconds')
    .min(MIN_ACCESS_TOKEN_TTL, `access token TTL must be at least ${MIN_ACCESS_TOKEN_TTL} seconds`)
    .max(MAX_ACCESS_TOKEN_TTL, `access token TTL must be at most ${MAX_ACCESS_TOKEN_TTL} seconds (one day)`)
    .default(DEFAULT_ACCESS_TOKEN_TTL),
});

export type NewResource = z.input<typeof newResourceSchema>;

const scopeDescription = z
  .string({ error: 'description must be text' })
  .max(256, 'description must be at most 256 characters')
  .nullable()
  .optional();

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  return parsed.data;
}

export interface ResourceOptions {
  /** Sesame's ENDPOINT: `${ENDPOINT}/api` names the management API and cannot be registered. */
  endpoint?: string;
  who?: ManagementActor;
  now?: number;
}

/** Registers an API resource; the CLI, the API and tests come through here. */
export async function createResource(db: Database, input: NewResource, options: ResourceOptions = {}): Promise<ApiResource> {
  const parsed = parse(newResourceSchema, input);
  if (parsed.indicator === LOGTO_DEFAULT_TENANT_INDICATOR || (options.endpoint && isManagementIndicator(parsed.indicator, options.endpoint))) {
    throw new InvalidInputError(`indicator "${parsed.indicator}" names Sesame's management API; pick your own API's URI`);
  }
  const resource: ApiResource = { id: randomId(), createdAt: options.now ?? Date.now(), ...parsed };
  return db.transaction().execute(async (tx) => {
    if (await findResourceByIndicator(tx, resource.indicator)) {
      throw new ConflictError(`a resource with indicator "${resource.indicator}" already exists`);
    }
    await insertResource(tx, resource, resource.scopes.map(() => randomId()));
    if (options.who) await auditChange(tx, options.who, 'Resource.Create', {}, { resourceId: resource.id, indicator: resource.indicator });
    return resource;
  });
}

export async function getResource(db: Queryable, id: string): Promise<ApiResource> {
  const resource = await findResourceById(db, id);
  if (!resource) throw new NotFoundError('API resource', id);
  return resource;
}

export async function listResourcesPage(db: Database, page: { limit: number; offset: number }) {
  const [rows, total] = await Promise.all([listResources(db, page), countResources(db)]);
  return { rows, total };
}

const resourceChangesSchema = newResourceSchema.pick({ name: true }).partial().extend({
  accessTokenTtl: newResourceSchema.shape.accessTokenTtl.unwrap().optional(),
});

/** Renames a resource or changes its token lifetime (its indicator is fixed, as in Logto). */
export async function updateResource(db: Database, id: string, input: { name?: string; accessTokenTtl?: number }, who: ManagementActor): Promise<ApiResource> {
  const changes = parse(resourceChangesSchema, input);
  return db.transaction().execute(async (tx) => {
    if (!(await updateResourceRow(tx, id, changes))) throw new NotFoundError('API resource', id);
    await auditChange(tx, who, 'Resource.Update', {}, { resourceId: id, fields: Object.keys(changes) });
    return getResource(tx, id);
  });
}

/** Removes a resource and its scopes. Tokens already issued for it stay valid until they expire. */
export async function deleteResource(db: Database, where: { id: string } | { indicator: string }, who: ManagementActor): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const deleted = 'id' in where ? await deleteResourceById(tx, where.id) : await deleteResourceByIndicator(tx, where.indicator);
    if (!deleted) throw new NotFoundError('API resource', 'id' in where ? where.id : where.indicator);
    await auditChange(tx, who, 'Resource.Delete', {}, where);
  });
}

export async function listScopesPage(db: Database, resourceId: string, page: { limit: number; offset: number }) {
  await getResource(db, resourceId);
  const [rows, total] = await Promise.all([listScopes(db, resourceId, page), countScopes(db, resourceId)]);
  return { rows, total };
}

export async function createScope(db: Database, resourceId: string, input: { name: string; description?: string | null }, who: ManagementActor, now = Date.now()): Promise<ResourceScope> {
  const name = parse(scopeName, input.name);
  const description = parse(scopeDescription, input.description) ?? null;
  return db.transaction().execute(async (tx) => {
    await getResource(tx, resourceId);
    if (await findScopeByName(tx, resourceId, name)) throw new ConflictError(`the resource already has a scope named "${name}"`);
    if ((await countScopes(tx, resourceId)) >= MAX_SCOPES) throw new ConflictError(`a resource may have at most ${MAX_SCOPES} scopes`);
    const scope: ResourceScope = { id: randomId(), resourceId, name, description, createdAt: now };
    await insertScope(tx, scope);
    await auditChange(tx, who, 'Resource.Scope.Create', {}, { resourceId, scopeId: scope.id, name });
    return scope;
  });
}

export async function updateScope(db: Database, resourceId: string, scopeId: string, input: { name?: string; description?: string | null }, who: ManagementActor): Promise<ResourceScope> {
  const name = input.name === undefined ? undefined : parse(scopeName, input.name);
  const description = parse(scopeDescription, input.description);
  return db.transaction().execute(async (tx) => {
    await getResource(tx, resourceId);
    const existing = await findScope(tx, resourceId, scopeId);
    if (!existing) throw new NotFoundError('scope', scopeId);
    if (name !== undefined && name !== existing.name && (await findScopeByName(tx, resourceId, name))) {
      throw new ConflictError(`the resource already has a scope named "${name}"`);
    }
    await updateScopeRow(tx, resourceId, scopeId, { name, description });
    await auditChange(tx, who, 'Resource.Scope.Update', {}, { resourceId, scopeId });
    return (await findScope(tx, resourceId, scopeId))!;
  });
}

export async function deleteScope(db: Database, resourceId: string, scopeId: string, who: ManagementActor): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await getResource(tx, resourceId);
    if (!(await deleteScopeRow(tx, resourceId, scopeId))) throw new NotFoundError('scope', scopeId);
    await auditChange(tx, who, 'Resource.Scope.Delete', {}, { resourceId, scopeId });
  });
}
