import type { Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { parseStringList } from './json.ts';
import { prepared } from './prepared.ts';
import type { ApplicationsTable } from './schema.ts';

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

const COLUMNS = [
  'id',
  'name',
  'type',
  'secret',
  'redirect_uris',
  'post_logout_redirect_uris',
  'is_third_party',
  'token_endpoint_auth_method',
  'created_at',
] as const;

type ApplicationRow = Pick<Selectable<ApplicationsTable>, (typeof COLUMNS)[number]>;

function fromRow(row: ApplicationRow): Application {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    secret: row.secret,
    redirectUris: parseStringList(row.redirect_uris),
    postLogoutRedirectUris: parseStringList(row.post_logout_redirect_uris),
    isThirdParty: row.is_third_party === 1,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    createdAt: Number(row.created_at),
  };
}

export async function insertApplication(db: Queryable, app: Application): Promise<void> {
  await db
    .insertInto('applications')
    .values({
      id: app.id,
      name: app.name,
      type: app.type,
      secret: app.secret,
      redirect_uris: JSON.stringify(app.redirectUris),
      post_logout_redirect_uris: JSON.stringify(app.postLogoutRedirectUris),
      is_third_party: app.isThirdParty ? 1 : 0,
      token_endpoint_auth_method: app.tokenEndpointAuthMethod,
      created_at: app.createdAt,
    })
    .execute();
}

const byId = prepared((db, p: { id: string }) => db.selectFrom('applications').select(COLUMNS).where('id', '=', p.id));

export async function findApplication(db: Queryable, id: string): Promise<Application | undefined> {
  const [row] = (await byId(db, { id })).rows;
  return row && fromRow(row);
}

export async function listApplications(db: Queryable): Promise<Application[]> {
  const rows = await db.selectFrom('applications').select(COLUMNS).orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

export async function deleteApplication(db: Queryable, id: string): Promise<boolean> {
  const result = await db.deleteFrom('applications').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
