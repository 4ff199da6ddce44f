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
import type { Text } from '../http/views.ts';
import { render, type Language } from '../i18n/index.ts';
import { message, type MessageKey } from '../sign-in/messages.ts';

/**
 * The passkeys on the account page: listed on /account with "Add a passkey", and each one renamed or
 * removed on a page of its own (removal asks to confirm). Adding one needs the browser's script
 * (public/passkeys.js): it fetches a challenge bound to this account session, asks the authenticator,
 * and posts the answer with the name.
 */

const REFUSED_KEYS: Record<RegistrationRefusal, MessageKey> = {
  expired: 'account.passkey.expired',
  malformed: 'account.passkey.malformed',
  invalid: 'account.passkey.invalid',
  duplicate: 'account.passkey.duplicate',
  too_many: 'account.passkey.tooMany',
};
const refusedMessage = (refused: RegistrationRefusal) => message(REFUSED_KEYS[refused], { count: MAX_PASSKEYS });

/** The name's problem, in the page's language (the schema's own words are English). */
const nameProblem = (issue: { code?: string } | undefined) =>
  issue?.code === 'too_big' ? message('account.passkey.nameTooLong', { count: MAX_PASSKEY_NAME }) : message('account.passkey.nameMissing');

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
const nameBody = z.object({ name: z.string().max(1000).default(''), _csrf: z.string().max(200).optional() });
const addBody = nameBody.extend({ response: z.string().max(32_000).default('') });

/** "3 Mar 2026" (in the page's language; Arabic with 0-9, as its pages write numbers) in UTC: the same on every server. */
const dateOf = (ms: number, lang: Language) =>
  new Date(ms).toLocaleDateString(lang === 'en' ? 'en-GB' : lang === 'ar' ? 'ar-u-nu-latn' : lang, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

const view = (passkey: Passkey, lang: Language) => ({
  id: passkey.id,
  name: passkey.name,
  created: dateOf(passkey.createdAt, lang),
  lastUsed: passkey.lastUsedAt === null ? undefined : dateOf(passkey.lastUsedAt, lang),
  synced: passkey.deviceType === 'multiDevice',
});

/** The overview's Security area: one entry per plugged-in section (see context.ts). */
export type SecurityArea = (ctx: AccountContext) => Promise<{ label: Text; href: string; summary?: Text }[]>;

export function passkeyPages(scope: FastifyInstance, kit: AccountKit, rp: RelyingParty, securityOf: SecurityArea) {
  const { db } = kit;
  const notFound = (reply: FastifyReply, ctx: AccountContext) =>
    ctx.render(reply, 'account/problem-in', { title: message('account.passkey.notFound.title'), message: message('account.passkey.notFound.message') }, 404);

  /** /account: the email, the passkeys with the add form, and the Security area. */
  async function overview(reply: FastifyReply, ctx: AccountContext, extra: { error?: Text; name?: string } = {}, status = 200) {
    const passkeys = await listPasskeys(db, ctx.user.id);
    const security = await securityOf(ctx);
    return ctx.render(
      reply,
      'account/overview',
      {
        title: message('account.nav.overview'),
        passkeys: passkeys.map((passkey) => view(passkey, ctx.lang)),
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
      if ('refused' in options) return reply.code(409).header('cache-control', 'no-store').send({ error: options.refused, message: render(refusedMessage(options.refused), ctx.lang) });
      return reply.header('cache-control', 'no-store').send(options);
    }),
  );

  scope.post(
    '/account/passkeys',
    { preHandler: kit.csrf, config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const body = parse(addBody, request.body);
      if (!body.success) return overview(reply, ctx, { error: message('account.passkey.formUnread') }, 400);
      const name = passkeyNameSchema.safeParse(body.data.name);
      if (!name.success) {
        // The challenge is spent all the same (one answer per challenge).
        await spendChallenge(db, registerBinding(ctx.session.id), kit.now());
        return overview(reply, ctx, { error: nameProblem(name.error.issues[0]), name: body.data.name.slice(0, MAX_PASSKEY_NAME) }, 400);
      }
      const result = await registerPasskey(db, rp, ctx.user, registerBinding(ctx.session.id), { response: body.data.response, name: name.data }, kit.now());
      if ('refused' in result) {
        if (result.detail) request.log.info({ userId: ctx.user.id, reason: result.refused, detail: result.detail }, 'passkey registration refused');
        await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Create, refused: result.refused });
        return overview(reply, ctx, { error: refusedMessage(result.refused), name: name.data }, result.refused === 'too_many' || result.refused === 'duplicate' ? 409 : 400);
      }
      await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Create, passkey: result.passkey });
      return ctx.redirect(reply, '/account#passkeys', message('account.passkey.added', { name: result.passkey.name }));
    }),
  );

  scope.get(
    '/account/passkeys/:id/rename',
    { config: { accountSection: 'overview' } },
    kit.page(async (request, reply, ctx) => {
      const params = parse(idParams, request.params);
      const passkey = params.success ? await findPasskey(db, ctx.user.id, params.data.id) : undefined;
      if (!passkey) return notFound(reply, ctx);
      return ctx.render(reply, 'account/passkey-rename', { title: message('account.passkey.renameTitle'), passkey: view(passkey, ctx.lang), name: passkey.name, maxName: MAX_PASSKEY_NAME });
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
        return ctx.render(reply, 'account/passkey-rename', { title: message('account.passkey.renameTitle'), passkey: view(passkey, ctx.lang), name: typed, maxName: MAX_PASSKEY_NAME, error: nameProblem(name.error.issues[0]) }, 400);
      }
      if (name.data !== passkey.name && (await renamePasskey(db, ctx.user.id, passkey.id, name.data))) {
        await auditAccountPasskey(db, request, ctx.user, { type: PasskeyAuditType.Update, passkey: { ...passkey, name: name.data }, data: { previousName: passkey.name } });
      }
      return ctx.redirect(reply, '/account#passkeys', message('account.passkey.renamed', { name: name.data }));
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
      return ctx.render(reply, 'account/passkey-remove', { title: message('account.passkey.removeTitle'), passkey: view(passkey, ctx.lang), others });
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
      return ctx.redirect(reply, '/account#passkeys', message('account.passkey.removed', { name: passkey.name }));
    }),
  );

  return { overview };
}
