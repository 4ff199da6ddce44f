import type { Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { parseStringList } from './json.ts';
import type { ApiResourcesTable } from './schema.ts';

export interface ApiResource {
  id: string;
  /** The absolute URI apps send as `resource`; it becomes the access token's aud. */
  indicator: string;
  name: string;
  scopes: string[];
  /** Seconds. */
  accessTokenTtl: number;
  createdAt: number;
}

const COLUMNS = ['id', 'indicator', 'name', 'scopes', 'access_token_ttl', 'created_at'] as const;

function fromRow(row: Selectable<ApiResourcesTable>): ApiResource {
  return {
    id: row.id,
    indicator: row.indicator,
    name: row.name,
    scopes: parseStringList(row.scopes),
    accessTokenTtl: Number(row.access_token_ttl),
    createdAt: Number(row.created_at),
  };
}

export async function insertResource(db: Queryable, resource: ApiResource): Promise<void> {
  await db
    .insertInto('api_resources')
    .values({
      id: resource.id,
      indicator: resource.indicator,
      name: resource.name,
      scopes: JSON.stringify(resource.scopes),
      access_token_ttl: resource.accessTokenTtl,
      created_at: resource.createdAt,
    })
    .execute();
}

export async function findResourceByIndicator(db: Queryable, indicator: string): Promise<ApiResource | undefined> {
  const row = await db.selectFrom('api_resources').select(COLUMNS).where('indicator', '=', indicator).executeTakeFirst();
  return row && fromRow(row);
}

export async function listResources(db: Queryable): Promise<ApiResource[]> {
  const rows = await db.selectFrom('api_resources').select(COLUMNS).orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

export async function deleteResource(db: Queryable, indicator: string): Promise<boolean> {
  const result = await db.deleteFrom('api_resources').where('indicator', '=', indicator).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
