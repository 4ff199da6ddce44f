import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { deletePasskey, findPasskey, listPasskeys, renamePasskey, type Passkey } from '../db/passkeys.ts';
import { auditAccountPasskey, PasskeyAuditType } from '../passkeys/audit.ts';
import {
  MAX_PASSKEY_NAME,
  MAX_PASSKEYS,
  passkeyNameSchema,
  registerBinding,
  registerPasskey,
  registrationOptions,
  spendChallenge,
  type RegistrationRefusal,
  type RelyingParty,
} from '../passkeys/webauthn.ts';
import { deviceName } from '../passkeys/device-name.ts';
import type { AccountContext, AccountKit } from './context.ts';

/**
 * The passkeys on the account page: listed on /account with "Add a passkey", and each one renamed or
 * removed on a page of its own (removal asks to confirm). Adding one needs the browser's script
 * (public/passkeys.js): it fetches a challenge bound to this account session, asks the authenticator,
 * and posts the answer with the name.
 */

const REFUSED: Record<RegistrationRefusal, string> = {
  expired: 'That passkey request expired or was already used. Try again.',
  malformed: 'Your browser did not send a passkey Sesame can read. Try again.',
  invalid: 'Sesame could not verify the new passkey. Try again.',
  duplicate: 'That passkey is already registered.',
  too_many: `You already have ${MAX_PASSKEYS} passkeys, the most an account may have. Remove one first.`,
};

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
const nameBody = z.object({ name: z.string().max(1000).default(''), _csrf: z.string().max(200).optional() });
const addBody = nameBody.extend({ response: z.string().max(32_000).default('') });

/** "3 Mar 2026" in UTC: the same on every server. */
const dateOf = (ms: number) => new Date(ms).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

const view = (passkey: Passkey) => ({
  id: passkey.id,
  name: passkey.name,
  created: dateOf(passkey.createdAt),
  lastUsed: passkey.lastUsedAt === null ? undefined : dateOf(passkey.lastUsedAt),
  synced: passkey.deviceType === 'multiDevice',
});

/** The overview's Security area: one entry per plugged-in section (see context.ts). */
export type SecurityArea = (ctx: AccountContext) => Promise<{ label: string; href: string; summary?: string }[]>;

export function passkeyPages(scope: FastifyInstance, kit: AccountKit, rp: RelyingParty, securityOf: SecurityArea) {
  const { db } = kit;
  const notFound = (reply: FastifyReply, ctx: AccountContext) =>
    ctx.render(reply, 'account/problem-in', { title: 'Passkey not found', message: 'That passkey is not on your account (it may have been removed already).' }, 404);

  /** /account: the email, the passkeys with the add form, and the Security area. */
  async function overview(reply: FastifyReply, ctx: AccountContext, extra: { error?: string; name?: string } = {}, status = 200) {
    const passkeys = await listPasskeys(db, ctx.user.id);
    const security = await securityOf(ctx);
    return ctx.render(
      reply,
      'account/overview',
      {
        title: 'Your account',
        passkeys: passkeys.map(view),
        maxPasskeys: MAX_PASSKEYS,
        maxName: MAX_PASSKEY_NAME,
        suggestedName: extra.name ?? deviceName(reply.request.headers['user-agent']),
        security,
        ...extra,
      },
      status,
    );
  }

  const parse = <T>(schema: z.ZodType<T>, value: unknown) => schema.safeParse(value);

  scope.post(
    '/account/passkeys/options',
    { preHandler: kit.csrf },
    kit.page(async (_request, reply, ctx) => {
      const options = await registrationOptions(db, rp, ctx.user, registerBinding(ctx.session.id), kit.now());
      if ('refused' in options) return reply.code(409).header('cache-control', 'no-store').send({ error: options.refused, message: REFUSED[options.refused] });
      return reply.header('cache-control', 'no-store').send(options);
    }),
  );

  scope.post(
    '/account/passkeys',
    { preHandler: kit.csrf, config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const body = parse(addBody, request.body);
      if (!body.success) return overview(reply, ctx, { error: 'That form could not be read. Reload the page and try again.' }, 400);
      const name = passkeyNameSchema.safeParse(body.data.name);
      if (!name.success) {
        // The challenge is spent all the same (one answer per challenge).
        await spendChallenge(db, registerBinding(ctx.session.id), kit.now());
        return overview(reply, ctx, { error: name.error.issues[0]?.message ?? 'Give the passkey a name.', name: body.data.name.slice(0, MAX_PASSKEY_NAME) }, 400);
      }
      const result = await registerPasskey(db, rp, ctx.user, registerBinding(ctx.session.id), { response: body.data.response, name: name.data }, kit.now());
      if ('refused' in result) {
        if (result.detail) request.log.info({ userId: ctx.user.id, reason: result.refused, detail: result.detail }, 'passkey registration refused');
        await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Create, refused: result.refused });
        return overview(reply, ctx, { error: REFUSED[result.refused], name: name.data }, result.refused === 'too_many' || result.refused === 'duplicate' ? 409 : 400);
      }
      await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Create, passkey: result.passkey });
      return ctx.redirect(reply, '/account#passkeys', `Passkey “${result.passkey.name}” added. Next time, choose “Sign in with a passkey”.`);
    }),
  );

  scope.get(
    '/account/passkeys/:id/rename',
    { config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const params = parse(idParams, request.params);
      const passkey = params.success ? await findPasskey(db, ctx.user.id, params.data.id) : undefined;
      if (!passkey) return notFound(reply, ctx);
      return ctx.render(reply, 'account/passkey-rename', { title: 'Rename passkey', passkey: view(passkey), name: passkey.name, maxName: MAX_PASSKEY_NAME });
    }),
  );

  scope.post(
    '/account/passkeys/:id/rename',
    { preHandler: kit.csrf, config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const params = parse(idParams, request.params);
      const passkey = params.success ? await findPasskey(db, ctx.user.id, params.data.id) : undefined;
      if (!passkey) return notFound(reply, ctx);
      const body = parse(nameBody, request.body);
      const name = passkeyNameSchema.safeParse(body.success ? body.data.name : '');
      if (!name.success) {
        const typed = body.success ? body.data.name.slice(0, MAX_PASSKEY_NAME) : passkey.name;
        return ctx.render(reply, 'account/passkey-rename', { title: 'Rename passkey', passkey: view(passkey), name: typed, maxName: MAX_PASSKEY_NAME, error: name.error.issues[0]?.message }, 400);
      }
      if (name.data !== passkey.name && (await renamePasskey(db, ctx.user.id, passkey.id, name.data))) {
        await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Update, passkey: { ...passkey, name: name.data }, data: { previousName: passkey.name } });
      }
      return ctx.redirect(reply, '/account#passkeys', `Passkey renamed to “${name.data}”.`);
    }),
  );

  scope.get(
    '/account/passkeys/:id/remove',
    { config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const params = parse(idParams, request.params);
      const passkey = params.success ? await findPasskey(db, ctx.user.id, params.data.id) : undefined;
      if (!passkey) return notFound(reply, ctx);
      const others = (await listPasskeys(db, ctx.user.id)).length - 1;
      return ctx.render(reply, 'account/passkey-remove', { title: 'Remove passkey', passkey: view(passkey), others });
    }),
  );

  scope.post(
    '/account/passkeys/:id/remove',
    { preHandler: kit.csrf, config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const params = parse(idParams, request.params);
      const passkey = params.success ? await findPasskey(db, ctx.user.id, params.data.id) : undefined;
      if (!passkey || !(await deletePasskey(db, ctx.user.id, passkey.id))) return notFound(reply, ctx);
      await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Delete, passkey });
      return ctx.redirect(reply, '/account#passkeys', `Passkey “${passkey.name}” removed. Also delete it from the device or password manager that holds it.`);
    }),
  );

  return { overview };
}
