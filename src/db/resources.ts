import type { Queryable } from './database.ts';

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

interface ApiResourceRow {
  id: string;
  indicator: string;
  name: string;
  scopes: string;
  access_token_ttl: number;
  created_at: number;
}

const COLUMNS = 'id, indicator, name, scopes, access_token_ttl, created_at';

function fromRow(row: ApiResourceRow): ApiResource {
  return {
    id: row.id,
    indicator: row.indicator,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    accessTokenTtl: Number(row.access_token_ttl),
    createdAt: Number(row.created_at),
  };
}

export async function insertResource(db: Queryable, resource: ApiResource): Promise<void> {
  await db.run(`INSERT INTO api_resources (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, [
    resource.id,
    resource.indicator,
    resource.name,
    JSON.stringify(resource.scopes),
    resource.accessTokenTtl,
    resource.createdAt,
  ]);
}

export async function findResourceByIndicator(db: Queryable, indicator: string): Promise<ApiResource | undefined> {
  const row = await db.get<ApiResourceRow>(`SELECT ${COLUMNS} FROM api_resources WHERE indicator = ?`, [indicator]);
  return row && fromRow(row);
}

export async function listResources(db: Queryable): Promise<ApiResource[]> {
  const rows = await db.all<ApiResourceRow>(`SELECT ${COLUMNS} FROM api_resources ORDER BY created_at, id`);
  return rows.map(fromRow);
}

export async function deleteResource(db: Queryable, indicator: string): Promise<boolean> {
  return (await db.run('DELETE FROM api_resources WHERE indicator = ?', [indicator])).changes > 0;
}
