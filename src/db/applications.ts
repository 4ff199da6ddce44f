import type { Selectable } from 'kysely';
import type { Queryable } from './database.ts';
import { parseStringList } from './json.ts';
import { prepared } from './prepared.ts';
import type { ApplicationsTable } from './schema.ts';

/** 'traditional': a web app signing people in (code flow); 'machine_to_machine': a program using client_credentials. */
export type ApplicationType = 'traditional' | 'machine_to_machine';
export const APPLICATION_TYPES: readonly ApplicationType[] = ['traditional', 'machine_to_machine'];

/** How an app authenticates at /oidc/token, introspection and revocation (RFC 7591 names). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/**
 * The one app Sesame registers for itself: the admin console (src/management/admins.ts keeps it).
 * oidc-provider finds it like any app (findApplication), but lists and counts leave it out and the
 * management operations treat it as absent, so no operator edits, deletes or sees it among theirs.
 */
export const CONSOLE_APPLICATION_ID = 'sesame-console';
/** The account page's app (src/account/oidc.ts), hidden the same way. */
export const ACCOUNT_APPLICATION_ID = 'sesame-account';
/** Sesame's own apps: never listed, counted, edited or deleted as an operator's. */
export const OWN_APPLICATION_IDS: readonly string[] = [CONSOLE_APPLICATION_ID, ACCOUNT_APPLICATION_ID];

export interface Application {
  id: string;
  name: string;
  type: ApplicationType;
  secret: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  isThirdParty: boolean;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /**
   * A machine-to-machine app an operator allowed to call the management API. Optional on insert
   * (absent means no access).
   */
  managementAccess?: boolean;
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
  'management_access',
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
    managementAccess: row.management_access === 1,
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
      management_access: app.managementAccess ? 1 : 0,
      created_at: app.createdAt,
    })
    .execute();
}

const byId = prepared((db, p: { id: string }) => db.selectFrom('applications').select(COLUMNS).where('id', '=', p.id));

export async function findApplication(db: Queryable, id: string): Promise<Application | undefined> {
  const [row] = (await byId(db, { id })).rows;
  return row && fromRow(row);
}

export async function listApplications(db: Queryable, filter: { types?: readonly ApplicationType[]; limit?: number; offset?: number } = {}): Promise<Application[]> {
  let query = db.selectFrom('applications').select(COLUMNS).where('id', 'not in', [...OWN_APPLICATION_IDS]).orderBy('created_at').orderBy('id');
  if (filter.types) query = query.where('type', 'in', filter.types.length ? [...filter.types] : ['' as ApplicationType]);
  if (filter.limit !== undefined) query = query.limit(filter.limit).offset(filter.offset ?? 0);
  return (await query.execute()).map(fromRow);
}

export async function countApplications(db: Queryable, filter: { types?: readonly ApplicationType[] } = {}): Promise<number> {
  let query = db.selectFrom('applications').select((eb) => eb.fn.countAll().as('n')).where('id', 'not in', [...OWN_APPLICATION_IDS]);
  if (filter.types) query = query.where('type', 'in', filter.types.length ? [...filter.types] : ['' as ApplicationType]);
  const row = await query.executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The parts of an app an operator may change after it was registered. */
export interface ApplicationChanges {
  name?: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  secret?: string;
  managementAccess?: boolean;
}

/** Applies `changes`; false when no such app. */
export async function updateApplication(db: Queryable, id: string, changes: ApplicationChanges): Promise<boolean> {
  const set: { name?: string; redirect_uris?: string; post_logout_redirect_uris?: string; secret?: string; management_access?: number } = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.redirectUris !== undefined) set.redirect_uris = JSON.stringify(changes.redirectUris);
  if (changes.postLogoutRedirectUris !== undefined) set.post_logout_redirect_uris = JSON.stringify(changes.postLogoutRedirectUris);
  if (changes.secret !== undefined) set.secret = changes.secret;
  if (changes.managementAccess !== undefined) set.management_access = changes.managementAccess ? 1 : 0;
  if (Object.keys(set).length === 0) return Boolean(await findApplication(db, id));
  const result = await db.updateTable('applications').set(set).where('id', '=', id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteApplication(db: Queryable, id: string): Promise<boolean> {
  const result = await db.deleteFrom('applications').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
