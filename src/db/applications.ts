import type { Queryable } from './database.ts';

export type ApplicationType = 'traditional';
export const APPLICATION_TYPES: readonly ApplicationType[] = ['traditional'];

/** How an app authenticates at /oidc/token, introspection and revocation (RFC 7591 names). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

export interface Application {
  id: string;
  name: string;
  type: ApplicationType;
  secret: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  isThirdParty: boolean;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  createdAt: number;
}

interface ApplicationRow {
  id: string;
  name: string;
  type: ApplicationType;
  secret: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  is_third_party: number;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  created_at: number;
}

const COLUMNS = 'id, name, type, secret, redirect_uris, post_logout_redirect_uris, is_third_party, token_endpoint_auth_method, created_at';

function fromRow(row: ApplicationRow): Application {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    secret: row.secret,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
    isThirdParty: row.is_third_party === 1,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    createdAt: row.created_at,
  };
}

export async function insertApplication(db: Queryable, app: Application): Promise<void> {
  await db.run(`INSERT INTO applications (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    app.id,
    app.name,
    app.type,
    app.secret,
    JSON.stringify(app.redirectUris),
    JSON.stringify(app.postLogoutRedirectUris),
    app.isThirdParty ? 1 : 0,
    app.tokenEndpointAuthMethod,
    app.createdAt,
  ]);
}

export async function findApplication(db: Queryable, id: string): Promise<Application | undefined> {
  const row = await db.get<ApplicationRow>(`SELECT ${COLUMNS} FROM applications WHERE id = ?`, [id]);
  return row && fromRow(row);
}

export async function listApplications(db: Queryable): Promise<Application[]> {
  const rows = await db.all<ApplicationRow>(`SELECT ${COLUMNS} FROM applications ORDER BY created_at, id`);
  return rows.map(fromRow);
}

export async function deleteApplication(db: Queryable, id: string): Promise<boolean> {
  return (await db.run('DELETE FROM applications WHERE id = ?', [id])).changes > 0;
}
