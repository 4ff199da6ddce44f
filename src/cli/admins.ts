import { parse, quote, UsageError, type Handler } from './command.ts';
import { findUserByIdOrEmail } from '../sign-in/accounts.ts';
import { createPasswordHasher } from '../sign-in/passwords.ts';
import { addAdministrator, listAdministrators, setAdministrator } from '../management/admins.ts';
import { CLI } from '../management/audit.ts';
import { InvalidInputError, NotFoundError } from '../management/errors.ts';

export const ADMIN_HELP = `Administrators (who may sign in to the admin console at ENDPOINT/console)
  admin add EMAIL             give the account the admin role (creating the account if nobody has it yet)
  admin remove ID_OR_EMAIL    take the role back; their console sessions end at once
  admin list [--json]`;

function oneName(args: string[], command: string): string {
  const { positionals } = parse(args, {}, true);
  const [who] = positionals;
  if (!who || positionals.length !== 1) throw new UsageError(`usage: sesame admin ${command} ${command === 'add' ? 'EMAIL' : 'ID_OR_EMAIL'}`);
  return who;
}

export const adminCommands: Record<string, Handler> = {
  async 'admin add'(args, { config, db, io }) {
    const who = oneName(args, 'add');
    const database = await db();
    try {
      const { user, created, already } = await addAdministrator(database, who, CLI, { passwords: createPasswordHasher(), codeTtlMinutes: config.codeTtlMinutes });
      const what = already ? 'is already an administrator' : created ? 'is now an administrator (a new account: nobody had signed up with it yet)' : 'is now an administrator';
      io.out(`${user.email} (${user.id}) ${what}. They sign in at ${config.endpoint}/console with a code sent to that address.`);
      return 0;
    } catch (error) {
      if (error instanceof NotFoundError) throw new UsageError(`no user with ID ${quote(who)}: give an email address to create the account`);
      if (error instanceof InvalidInputError) throw new UsageError(error.message);
      throw error;
    }
  },

  async 'admin remove'(args, { db, io }) {
    const who = oneName(args, 'remove');
    const database = await db();
    const user = await findUserByIdOrEmail(database, who);
    if (!user) throw new UsageError(`no user with ID or email ${quote(who)}`);
    if (!user.isAdmin) {
      io.out(`${user.email} (${user.id}) is not an administrator; nothing changed.`);
      return 0;
    }
    await setAdministrator(database, user.id, false, CLI);
    const left = (await listAdministrators(database)).length;
    io.out(`${user.email} (${user.id}) is no longer an administrator; their console sessions have ended.${left === 0 ? ' There is no administrator left: `sesame admin add EMAIL` makes one.' : ''}`);
    return 0;
  },

  async 'admin list'(args, { db, io }) {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const admins = await listAdministrators(await db());
    if (values.json) {
      io.out(JSON.stringify(admins.map((user) => ({ id: user.id, email: user.email, name: user.name, isSuspended: Boolean(user.isSuspended), lastSignInAt: user.lastSignInAt, createdAt: user.createdAt }))));
      return 0;
    }
    if (admins.length === 0) {
      io.out('No administrators yet: `sesame admin add EMAIL` makes one.');
      return 0;
    }
    io.out(`${admins.length} administrator(s)`);
    for (const user of admins) io.out(`${user.id}  ${user.email}${user.isSuspended ? '  (suspended: cannot sign in)' : ''}`);
    return 0;
  },
};
