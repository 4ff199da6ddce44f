import { z } from 'zod';
import type { Database } from '../db/database.ts';
import {
  APPLICATION_TYPES,
  OWN_APPLICATION_IDS,
  TOKEN_ENDPOINT_AUTH_METHODS,
  countApplications,
  deleteApplication as deleteApplicationRow,
  findApplication,
  insertApplication,
  listApplications,
  updateApplication as updateApplicationRow,
  type Application,
  type ApplicationType,
} from '../db/applications.ts';
import { randomId, randomString } from '../lib/random.ts';
import { displayName, firstIssue, hasWhitespaceOrControl, quoteInput } from '../lib/validation.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';

export { InvalidInputError } from './errors.ts';

function isAbsoluteHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
  } catch {
    return false;
  }
}

export const absoluteHttpUrl = (label: string) =>
  z.string().superRefine((value, ctx) => {
    // Whitespace is checked explicitly because URL parsing quietly strips it (leading/trailing
    // spaces, inner tabs and line breaks): the URI is stored as typed and must match the app's
    // requests exactly. Something that is no URL even without it gets the URL message.
    if (!isAbsoluteHttpUrl(value.replace(/[\s\p{Cc}\p{Cf}]/gu, ''))) {
      ctx.addIssue({ code: 'custom', message: `${label} must be an absolute http(s) URL without a #fragment, got ${quoteInput(value)}` });
    } else if (hasWhitespaceOrControl(value)) {
      ctx.addIssue({ code: 'custom', message: `${label} must not contain spaces, tabs, line breaks or control characters, got ${quoteInput(value)}` });
    }
  });

const authMethod = z.enum(TOKEN_ENDPOINT_AUTH_METHODS, {
  error: (issue) => `token endpoint auth method must be one of: ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}, got ${quoteInput(issue.input)}`,
});

export const newApplicationSchema = z
  .object({
    name: displayName(),
    type: z.enum(APPLICATION_TYPES, {
      error: (issue) => `type must be one of: ${APPLICATION_TYPES.join(', ')}, got ${quoteInput(issue.input)}`,
    }),
    redirectUris: z.array(absoluteHttpUrl('redirect URI')).default([]),
    postLogoutRedirectUris: z.array(absoluteHttpUrl('post-logout redirect URI')).default([]),
    isThirdParty: z.boolean().default(false),
    tokenEndpointAuthMethod: authMethod.optional(),
  })
  .superRefine((app, ctx) => {
    if (app.type === 'traditional' && app.redirectUris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: 'at least one --redirect-uri is required' });
    }
    if (app.type === 'machine_to_machine' && (app.redirectUris.length || app.postLogoutRedirectUris.length)) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirectUris'],
        message: 'a machine-to-machine app signs nobody in: it takes no redirect or post-logout redirect URIs',
      });
    }
    if (app.type === 'machine_to_machine' && app.isThirdParty) {
      ctx.addIssue({ code: 'custom', path: ['isThirdParty'], message: 'a machine-to-machine app cannot be third-party (there is nobody to ask for consent)' });
    }
  });

export type NewApplication = z.input<typeof newApplicationSchema>;

/**
 * The method an app authenticates with when none was chosen. A machine-to-machine app defaults to
 * client_secret_post because that is what Logto's own client (@logto/api's createManagementApi)
 * sends; a web app to client_secret_basic, what Logto's sign-in SDKs send.
 */
const defaultAuthMethod = (type: ApplicationType) => (type === 'machine_to_machine' ? 'client_secret_post' : 'client_secret_basic');

/** App Secrets are alphanumeric (Logto SDKs put them in a Basic header without encoding). */
const newSecret = () => randomString(32);

/** The one way an application gets registered: the CLI, the API, the demo and tests all come through here. */
export async function createApplication(db: Database, input: NewApplication, who?: ManagementActor): Promise<Application> {
  const parsed = newApplicationSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  const { tokenEndpointAuthMethod, ...fields } = parsed.data;
  const app: Application = {
    id: randomId(),
    secret: newSecret(),
    createdAt: Date.now(),
    ...fields,
    tokenEndpointAuthMethod: tokenEndpointAuthMethod ?? defaultAuthMethod(fields.type),
    managementAccess: false,
  };
  await db.transaction().execute(async (tx) => {
    await insertApplication(tx, app);
    if (who) await auditChange(tx, who, 'Application.Create', { applicationId: app.id }, { name: app.name, type: app.type });
  });
  return app;
}

/** Sesame's own apps (the admin console, the account page) are Sesame's to keep: to every operation here they do not exist. */
function refuseConsoleApp(id: string): void {
  if (OWN_APPLICATION_IDS.includes(id)) throw new NotFoundError('application', id);
}

export async function getApplication(db: Database, id: string): Promise<Application> {
  refuseConsoleApp(id);
  const app = await findApplication(db, id);
  if (!app) throw new NotFoundError('application', id);
  return app;
}

export async function listApplicationsPage(db: Database, filter: { types?: ApplicationType[] }, page: { limit: number; offset: number }) {
  const [rows, total] = await Promise.all([listApplications(db, { ...filter, ...page }), countApplications(db, filter)]);
  return { rows, total };
}

const applicationChangesSchema = z.object({
  name: displayName().optional(),
  redirectUris: z.array(absoluteHttpUrl('redirect URI')).optional(),
  postLogoutRedirectUris: z.array(absoluteHttpUrl('post-logout redirect URI')).optional(),
  /** Machine-to-machine apps only: whether it may get tokens for the management API. */
  managementAccess: z.boolean().optional(),
});
export type ApplicationChanges = z.input<typeof applicationChangesSchema>;

/** Renames an app or replaces its redirect URIs; the rules of createApplication hold for the result. */
export async function updateApplication(db: Database, id: string, input: ApplicationChanges, who: ManagementActor): Promise<Application> {
  const parsed = applicationChangesSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  const changes = parsed.data;
  refuseConsoleApp(id);
  return db.transaction().execute(async (tx) => {
    const app = await findApplication(tx, id);
    if (!app) throw new NotFoundError('application', id);
    const { managementAccess, ...fields } = changes;
    const next: Application = { ...app, ...Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) };
    const checked = newApplicationSchema.safeParse({ ...next, tokenEndpointAuthMethod: app.tokenEndpointAuthMethod });
    if (!checked.success) throw new InvalidInputError(firstIssue(checked.error));
    if (managementAccess !== undefined && app.type !== 'machine_to_machine') {
      throw new InvalidInputError(`only machine-to-machine apps can be granted the management API; "${app.name}" is ${app.type}`);
    }
    const changed = Object.keys(fields).filter((key) => fields[key as keyof typeof fields] !== undefined);
    if (changed.length) {
      await updateApplicationRow(tx, id, fields);
      await auditChange(tx, who, 'Application.Update', { applicationId: id }, { fields: changed });
    }
    if (managementAccess !== undefined && managementAccess !== app.managementAccess) {
      await updateApplicationRow(tx, id, { managementAccess });
      await auditChange(tx, who, managementAccess ? 'Application.GrantManagement' : 'Application.RevokeManagement', { applicationId: id });
    }
    return { ...next, managementAccess: managementAccess ?? app.managementAccess };
  });
}

/** Removes an app. Its clients stop working within the adapter's client cache (2 s). */
export async function deleteApplication(db: Database, id: string, who: ManagementActor): Promise<void> {
  refuseConsoleApp(id);
  await db.transaction().execute(async (tx) => {
    if (!(await deleteApplicationRow(tx, id))) throw new NotFoundError('application', id);
    await auditChange(tx, who, 'Application.Delete', { applicationId: id });
  });
}

/**
 * Gives the app a new App Secret, returned once. The old one stops working at once for the
 * management API and within 2 s (the client cache) at the token endpoint.
 */
export async function rotateApplicationSecret(db: Database, id: string, who: ManagementActor): Promise<Application> {
  refuseConsoleApp(id);
  const secret = newSecret();
  return db.transaction().execute(async (tx) => {
    const app = await findApplication(tx, id);
    if (!app) throw new NotFoundError('application', id);
    await updateApplicationRow(tx, id, { secret });
    await auditChange(tx, who, 'Application.RotateSecret', { applicationId: id });
    return { ...app, secret };
  });
}

/** Grants (or revokes) an m2m app tokens for the management API; revoking also refuses its current tokens. */
export function setManagementAccess(db: Database, id: string, granted: boolean, who: ManagementActor): Promise<Application> {
  return updateApplication(db, id, { managementAccess: granted }, who);
}

/** One of Sesame's own apps (the admin console, the account page), as Sesame needs it registered now. */
export interface FirstPartyClient {
  id: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}

/**
 * Registers one of Sesame's own apps (the first start): a confidential, first-party web app with a
 * new App Secret; or puts its URIs back as `client` says: ENDPOINT may have changed since the last
 * start. The App Secret, once made, is kept: the app reads it from the database for each token call.
 * Idempotent; src/server.ts runs it under a lock so instances starting together create it once.
 */
export async function ensureFirstPartyClient(db: Database, client: FirstPartyClient, now = Date.now()): Promise<Application> {
  const { id, redirectUris, postLogoutRedirectUris } = client;
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((value, i) => value === b[i]);
  const ensure = () =>
    db.transaction().execute(async (tx) => {
      const existing = await findApplication(tx, id);
      if (!existing) {
        const app: Application = {
          id,
          name: client.name,
          type: 'traditional',
          secret: newSecret(),
          redirectUris,
          postLogoutRedirectUris,
          isThirdParty: false,
          tokenEndpointAuthMethod: 'client_secret_basic',
          managementAccess: false,
          createdAt: now,
        };
        await insertApplication(tx, app);
        return app;
      }
      if (same(existing.redirectUris, redirectUris) && same(existing.postLogoutRedirectUris, postLogoutRedirectUris)) return existing;
      await updateApplicationRow(tx, id, { redirectUris, postLogoutRedirectUris });
      return { ...existing, redirectUris, postLogoutRedirectUris };
    });
  try {
    return await ensure();
  } catch (error) {
    // WORKERS on SQLite: a sibling process (no advisory lock there) registered it at the same moment.
    const app = await findApplication(db, id);
    if (app && same(app.redirectUris, redirectUris) && same(app.postLogoutRedirectUris, postLogoutRedirectUris)) return app;
    throw error;
  }
}
