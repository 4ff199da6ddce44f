import type { Database, Queryable } from '../db/database.ts';
import { CONSOLE_APPLICATION_ID, type Application } from '../db/applications.ts';
import { findUserById, listAdminUsers, setUserAdmin, type User } from '../db/users.ts';
import { findUserByIdOrEmail } from '../sign-in/accounts.ts';
import type { PasswordHasher } from '../sign-in/passwords.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { createUser } from './users.ts';
import { ensureFirstPartyClient } from './applications.ts';
import { deleteConsoleSessionsOf } from '../db/console-sessions.ts';

/**
 * Administrators and the admin console's own OIDC client.
 *
 * An administrator is an account with the admin role (users.is_admin). The console (src/console/) is
 * a first-party app of Sesame's own, registered like any other app under the fixed App ID below; it
 * is the one app that may get management API tokens for a person, and only for an administrator
 * (src/oidc/provider.ts issues them, src/api/bearer-auth.ts checks the role again on every call).
 */

/**
 * The console's App ID: fixed, so the provider and the API recognise its tokens. Lists and the
 * management operations leave this app out (see src/db/applications.ts).
 */
export const CONSOLE_CLIENT_ID = CONSOLE_APPLICATION_ID;
export const CONSOLE_CLIENT_NAME = 'Sesame admin console';
export const consoleRedirectUri = (endpoint: string) => `${endpoint}/console/callback`;
export const consolePostLogoutRedirectUri = (endpoint: string) => `${endpoint}/console/signed-out`;

/** Whether `userId` may use the console and its management API tokens now: an admin, not suspended. */
export async function isActiveAdministrator(db: Queryable, userId: string): Promise<boolean> {
  const user = await findUserById(db, userId);
  return Boolean(user?.isAdmin && !user.isSuspended);
}

export const listAdministrators = (db: Queryable): Promise<User[]> => listAdminUsers(db);

export async function hasAdministrator(db: Queryable): Promise<boolean> {
  return (await listAdminUsers(db)).length > 0;
}

/**
 * Grants or takes back the admin role. Taking it back also ends the person's console sessions in the
 * same transaction; the management API tokens they still hold are refused from their next call
 * (bearer-auth reads the role on every request).
 */
export async function setAdministrator(db: Database, id: string, admin: boolean, who: ManagementActor, now = Date.now()): Promise<User> {
  return db.transaction().execute(async (tx) => {
    const user = await findUserById(tx, id);
    if (!user) throw new NotFoundError('user', id);
    if (user.isAdmin !== admin) {
      await setUserAdmin(tx, id, admin, now);
      if (!admin) await deleteConsoleSessionsOf(tx, id);
      await auditChange(tx, who, admin ? 'User.GrantAdmin' : 'User.RevokeAdmin', { userId: id });
    }
    return { ...user, isAdmin: admin, updatedAt: user.isAdmin !== admin ? now : user.updatedAt };
  });
}

/**
 * `sesame admin add EMAIL`: makes the account an administrator, creating it first when nobody has
 * signed up with that address yet (the very first administrator usually has no account: they run
 * this on the server, then sign in to the console with an emailed code, which proves the address).
 */
export async function addAdministrator(
  db: Database,
  who: string,
  actor: ManagementActor,
  deps: { passwords: PasswordHasher; codeTtlMinutes?: number },
): Promise<{ user: User; created: boolean; already: boolean }> {
  let user = await findUserByIdOrEmail(db, who);
  let created = false;
  if (!user) {
    if (!who.includes('@')) throw new NotFoundError('user', who);
    user = await createUser(db, { primaryEmail: who }, deps, actor).catch((error: unknown) => {
      // The address itself is what was wrong: say so without the API's field name.
      if (error instanceof InvalidInputError) throw new InvalidInputError(error.message.replace(/^primaryEmail: /, ''));
      throw error;
    });
    created = true;
  }
  const already = Boolean(user.isAdmin);
  return { user: await setAdministrator(db, user.id, true, actor), created, already };
}

/**
 * Registers the console as an app (the first start), or puts it back as Sesame needs it: ENDPOINT
 * may have changed since the last start. Idempotent;
 * src/server.ts runs it under a lock so instances starting together create it once. The App Secret,
 * once made, is kept: the console reads it from the database for each token call.
 */
export function ensureConsoleClient(db: Database, endpoint: string, now = Date.now()): Promise<Application> {
  return ensureFirstPartyClient(
    db,
    { id: CONSOLE_CLIENT_ID, name: CONSOLE_CLIENT_NAME, redirectUris: [consoleRedirectUri(endpoint)], postLogoutRedirectUris: [consolePostLogoutRedirectUri(endpoint)] },
    now,
  );
}
