import type { Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import type { ApiResourceScopesTable, ApiResourcesTable } from './schema.ts';

export interface ApiResource {
  id: string;
  /** The absolute URI apps send as `resource`; it becomes the access token's aud. */
  indicator: string;
  name: string;
  /** The scope names, in the order they were added. */
  scopes: string[];
  /** Seconds. */
  accessTokenTtl: number;
  createdAt: number;
}

export interface ResourceScope {
  id: string;
  resourceId: string;
  name: string;
  description: string | null;
  createdAt: number;
}

const COLUMNS = ['id', 'indicator', 'name', 'access_token_ttl', 'created_at'] as const;
const SCOPE_COLUMNS = ['id', 'resource_id', 'name', 'description', 'created_at'] as const;

function fromRow(row: Selectable<ApiResourcesTable>, scopes: string[]): ApiResource {
  return {
    id: row.id,
    indicator: row.indicator,
    name: row.name,
    scopes,
    accessTokenTtl: Number(row.access_token_ttl),
    createdAt: Number(row.created_at),
  };
}

function scopeFromRow(row: Selectable<ApiResourceScopesTable>): ResourceScope {
  return { id: row.id, resourceId: row.resource_id, name: row.name, description: row.description, createdAt: Number(row.created_at) };
}

/** Scope names per resource ID, each list in the order the scopes were added. */
async function scopeNamesOf(db: Queryable, resourceIds: string[]): Promise<Map<string, string[]>> {
  const byResource = new Map<string, string[]>(resourceIds.map((id) => [id, []]));
  if (resourceIds.length === 0) return byResource;
  const rows = await db
    .selectFrom('api_resource_scopes')
    .select(['resource_id', 'name'])
    .where('resource_id', 'in', resourceIds)
    .orderBy('created_at')
    .orderBy('name')
    .execute();
  for (const row of rows) byResource.get(row.resource_id)?.push(row.name);
  return byResource;
}

/** Inserts the resource and one scope row per name in `scopes` (each given `scopeIds[i]`). */
export async function insertResource(db: Queryable, resource: ApiResource, scopeIds: string[]): Promise<void> {
  await db
    .insertInto('api_resources')
    .values({
      id: resource.id,
      indicator: resource.indicator,
      name: resource.name,
      access_token_ttl: resource.accessTokenTtl,
      created_at: resource.createdAt,
    })
    .execute();
  if (resource.scopes.length) {
    await db
      .insertInto('api_resource_scopes')
      .values(resource.scopes.map((name, i) => ({ id: scopeIds[i]!, resource_id: resource.id, name, description: null, created_at: resource.createdAt + i })))
      .execute();
  }
}

async function withScopes(db: Queryable, row: Selectable<ApiResourcesTable> | undefined): Promise<ApiResource | undefined> {
  if (!row) return undefined;
  return fromRow(row, (await scopeNamesOf(db, [row.id])).get(row.id) ?? []);
}

export async function findResourceByIndicator(db: Queryable, indicator: string): Promise<ApiResource | undefined> {
  return withScopes(db, await db.selectFrom('api_resources').select(COLUMNS).where('indicator', '=', indicator).executeTakeFirst());
}

export async function findResourceById(db: Queryable, id: string): Promise<ApiResource | undefined> {
  return withScopes(db, await db.selectFrom('api_resources').select(COLUMNS).where('id', '=', id).executeTakeFirst());
}

export async function listResources(db: Queryable, page: { limit?: number; offset?: number } = {}): Promise<ApiResource[]> {
  let query = db.selectFrom('api_resources').select(COLUMNS).orderBy('created_at').orderBy('id');
  if (page.limit !== undefined) query = query.limit(page.limit).offset(page.offset ?? 0);
  const rows = await query.execute();
  const scopes = await scopeNamesOf(db, rows.map((row) => row.id));
  return rows.map((row) => fromRow(row, scopes.get(row.id) ?? []));
}

export async function countResources(db: Queryable): Promise<number> {
  const row = await db.selectFrom('api_resources').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function updateResource(db: Queryable, id: string, changes: { name?: string; accessTokenTtl?: number }): Promise<boolean> {
  const set = {
    ...(changes.name !== undefined && { name: changes.name }),
    ...(changes.accessTokenTtl !== undefined && { access_token_ttl: changes.accessTokenTtl }),
  };
  if (Object.keys(set).length === 0) return Boolean(await db.selectFrom('api_resources').select('id').where('id', '=', id).executeTakeFirst());
  const result = await db.updateTable('api_resources').set(set).where('id', '=', id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Removes the resource and its scopes (call inside a transaction); false when no such resource. */
async function deleteResourceWhere(db: Queryable, column: 'id' | 'indicator', value: string): Promise<boolean> {
  const row = await db.selectFrom('api_resources').select('id').where(column, '=', value).executeTakeFirst();
  if (!row) return false;
  await db.deleteFrom('api_resource_scopes').where('resource_id', '=', row.id).execute();
  const result = await db.deleteFrom('api_resources').where('id', '=', row.id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export const deleteResource = (db: Queryable, indicator: string) => deleteResourceWhere(db, 'indicator', indicator);
export const deleteResourceById = (db: Queryable, id: string) => deleteResourceWhere(db, 'id', id);

export async function listScopes(db: Queryable, resourceId: string, page: { limit?: number; offset?: number } = {}): Promise<ResourceScope[]> {
  let query = db.selectFrom('api_resource_scopes').select(SCOPE_COLUMNS).where('resource_id', '=', resourceId).orderBy('created_at').orderBy('name');
  if (page.limit !== undefined) query = query.limit(page.limit).offset(page.offset ?? 0);
  return (await query.execute()).map(scopeFromRow);
}

export async function countScopes(db: Queryable, resourceId: string): Promise<number> {
  const row = await db.selectFrom('api_resource_scopes').select((eb) => eb.fn.countAll().as('n')).where('resource_id', '=', resourceId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function findScope(db: Queryable, resourceId: string, scopeId: string): Promise<ResourceScope | undefined> {
  const row = await db.selectFrom('api_resource_scopes').select(SCOPE_COLUMNS).where('resource_id', '=', resourceId).where('id', '=', scopeId).executeTakeFirst();
  return row && scopeFromRow(row);
}

export async function findScopeByName(db: Queryable, resourceId: string, name: string): Promise<ResourceScope | undefined> {
  const row = await db.selectFrom('api_resource_scopes').select(SCOPE_COLUMNS).where('resource_id', '=', resourceId).where('name', '=', name).executeTakeFirst();
  return row && scopeFromRow(row);
}

export async function insertScope(db: Queryable, scope: ResourceScope): Promise<void> {
  await db
    .insertInto('api_resource_scopes')
    .values({ id: scope.id, resource_id: scope.resourceId, name: scope.name, description: scope.description, created_at: scope.createdAt })
    .execute();
}

export async function updateScope(db: Queryable, resourceId: string, scopeId: string, changes: { name?: string; description?: string | null }): Promise<boolean> {
  const set = {
    ...(changes.name !== undefined && { name: changes.name }),
    ...(changes.description !== undefined && { description: changes.description }),
  };
  if (Object.keys(set).length === 0) return Boolean(await findScope(db, resourceId, scopeId));
  const result = await db.updateTable('api_resource_scopes').set(set).where('resource_id', '=', resourceId).where('id', '=', scopeId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteScope(db: Queryable, resourceId: string, scopeId: string): Promise<boolean> {
  const result = await db.deleteFrom('api_resource_scopes').where('resource_id', '=', resourceId).where('id', '=', scopeId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
