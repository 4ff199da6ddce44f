import { parse, quote, UsageError, type Handler } from './command.ts';
import { countUsers, listUsers } from '../db/users.ts';
import { findUserByIdOrEmail } from '../sign-in/accounts.ts';
import { deleteUser, revokeUserSessions, setSuspended } from '../management/users.ts';
import { CLI } from '../management/audit.ts';
import { resetSecondFactor } from '../mfa/admin.ts';
import { integerIn, parseOr } from '../lib/validation.ts';

export const USER_HELP = `Users
  user list [--json] [--limit N] [--search TEXT]
  user delete ID_OR_EMAIL                 remove an account and end its sessions and tokens
  user suspend ID_OR_EMAIL                keep the account but refuse its sign-ins; ends its sessions and tokens
  user unsuspend ID_OR_EMAIL
  user sign-out ID_OR_EMAIL               end every session and refresh token of the account
  user reset-mfa ID_OR_EMAIL              remove the authenticator app and backup codes (lost phone); audit-logged`;

const usage = (message: string) => new UsageError(message);

/** The account a command names (an ID or an email); a name that matches none is a usage error. */
async function named(args: string[], command: string, db: () => Promise<import('../db/database.ts').Database>) {
  const { positionals } = parse(args, {}, true);
  const [who] = positionals;
  if (!who || positionals.length !== 1) throw new UsageError(`usage: sesame user ${command} ID_OR_EMAIL`);
  const database = await db();
  const user = await findUserByIdOrEmail(database, who);
  if (!user) throw new UsageError(`no user with ID or email ${quote(who)}`);
  return { database, user };
}

export const userCommands: Record<string, Handler> = {
  async 'user list'(args, { db, io }) {
    const { values } = parse(args, { json: { type: 'boolean' }, limit: { type: 'string' }, search: { type: 'string' } });
    const limit = parseOr(integerIn(1, 10_000, '--limit must be an integer between 1 and 10000', 'text').default(100), values.limit, usage);
    const database = await db();
    const filter = { search: values.search };
    const users = await listUsers(database, limit, 0, filter);
    if (values.json) {
      io.out(JSON.stringify(users.map(({ passwordHash, ...user }) => ({ ...user, hasPassword: passwordHash !== null }))));
    } else {
      io.out(`${await countUsers(database, filter)} user(s)`);
      for (const user of users) {
        io.out(`${user.id}  ${user.email}  last sign-in ${user.lastSignInAt ? new Date(user.lastSignInAt).toISOString() : 'never'}${user.isSuspended ? '  (suspended)' : ''}`);
      }
    }
    return 0;
  },

  async 'user delete'(args, { db, io }) {
    const { database, user } = await named(args, 'delete', db);
    await deleteUser(database, user, CLI);
    io.out(`Deleted ${user.email} (${user.id}) and signed them out everywhere.`);
    return 0;
  },

  async 'user suspend'(args, { db, io }) {
    const { database, user } = await named(args, 'suspend', db);
    await setSuspended(database, user.id, true, CLI);
    io.out(`Suspended ${user.email} (${user.id}): they cannot sign in, and their sessions and refresh tokens have ended.`);
    return 0;
  },

  async 'user unsuspend'(args, { db, io }) {
    const { database, user } = await named(args, 'unsuspend', db);
    await setSuspended(database, user.id, false, CLI);
    io.out(`${user.email} (${user.id}) may sign in again.`);
    return 0;
  },

  async 'user sign-out'(args, { db, io }) {
    const { database, user } = await named(args, 'sign-out', db);
    const ended = await revokeUserSessions(database, user.id, CLI);
    io.out(`Signed ${user.email} out everywhere (${ended} session(s), grant(s) and token(s) ended).`);
    return 0;
  },

  async 'user reset-mfa'(args, { db, io }) {
    const { database, user } = await named(args, 'reset-mfa', db);
    const had = await resetSecondFactor(database, user.id, CLI);
    io.out(
      had
        ? `Removed the authenticator app and backup codes of ${user.email} (${user.id}). If the sign-in experience requires a second factor, they set up a new one at their next sign-in.`
        : `${user.email} (${user.id}) had no authenticator app or backup codes; nothing changed.`,
    );
    return 0;
  },
};
