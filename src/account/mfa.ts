import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { clientIp } from '../lib/request.ts';
import { auditAccountMfa, MfaAuditType } from '../mfa/audit.ts';
import { createSecondFactor, type SecondFactor } from '../mfa/second-factor.ts';
import { loadExperience, type MfaPolicy } from '../sign-in/experience.ts';
import { createLockout, type Lockout } from '../sign-in/lockout.ts';
import { lockoutMessage, message } from '../sign-in/messages.ts';
import { totpCode } from '../sign-in/routes/mfa.ts';
import { BACKUP_CODE_COUNT } from '../mfa/backup-codes.ts';
import type { Text } from '../http/views.ts';
import { accountSectionOf, type AccountContext, type AccountKit, type AccountSection } from './context.ts';

const SECTION = 'mfa';
const PATH = '/account/mfa';
const codeBody = z.object({ code: z.string().max(100).default(''), _csrf: z.string().max(200).optional() });

/**
 * The account page's "Two-step verification": turn the authenticator app on (QR code, secret, a code
 * to confirm, then the backup codes once) when the experience offers it, see how many backup codes
 * are left, make new ones, and turn it off where the policy allows. Making new codes or turning it off
 * asks for a current code from the app: a session left open on a shared computer is not enough. Wrong
 * codes here count towards the same lockout as at sign-in.
 */
export function mfaSection(): AccountSection {
  // The overview's one-line summary needs the database, which the section gets with its routes.
  let statusLine: (ctx: AccountContext) => Promise<Text | undefined> = async () => undefined;
  return {
    id: SECTION,
    label: message('title.mfa'),
    path: PATH,
    summary: (ctx) => statusLine(ctx),
    routes(scope, kit) {
      statusLine = mfaRoutes(scope, kit);
    },
  };
}

/** Registers the section's routes; returns its summary line for the overview. */
function mfaRoutes(scope: FastifyInstance, kit: AccountKit): (ctx: AccountContext) => Promise<Text | undefined> {
  const { db, now } = kit;
  const secondFactor: SecondFactor = createSecondFactor({ db, now, issuer: new URL(kit.config.endpoint).host });
  const lockout: Lockout = createLockout(db, now);
  const policyNow = async (): Promise<MfaPolicy> => (await loadExperience(db, kit.config.codeTtlMinutes)).mfa.policy;
  const section = accountSectionOf(SECTION);

  const statusLine = async (ctx: AccountContext) => {
    if (await secondFactor.enrolled(ctx.user.id)) {
      const left = (await secondFactor.backupCodes(ctx.user.id))?.left ?? 0;
      return message('account.mfa.summaryOn', { count: left });
    }
    return (await policyNow()) === 'off' ? undefined : message('account.mfa.summaryOff');
  };

  async function overview(reply: FastifyReply, ctx: AccountContext, extra: Record<string, unknown> = {}, status = 200) {
    const policy = await policyNow();
    const enrolled = await secondFactor.enrolled(ctx.user.id);
    const codes = enrolled ? await secondFactor.backupCodes(ctx.user.id) : undefined;
    return ctx.render(
      reply,
      'account/mfa',
      {
        title: message('title.mfa'),
        policy,
        enrolled,
        backupCodesLeft: codes?.left ?? 0,
        backupCodesTotal: BACKUP_CODE_COUNT,
        canTurnOff: enrolled && policy !== 'required',
        ...extra,
      },
      status,
    );
  }

  /** A current code from the app, checked under the lockout (as at sign-in) for the account's address. */
  async function checkCode(request: FastifyRequest, ctx: AccountContext): Promise<{ ok: true } | { ok: false; error: Text; status: number }> {
    const body = codeBody.safeParse(request.body);
    const code = body.success ? totpCode(body.data.code) : undefined;
    if (!code) return { ok: false, error: message('mfa.totpMalformed'), status: 400 };
    const who = { email: ctx.user.email, ip: clientIp(request), knownDevice: true };
    const lock = await lockout.check(who);
    if (lock.locked) return { ok: false, error: lockoutMessage(lock), status: 429 };
    const result = await secondFactor.verifyTotp(ctx.user.id, code);
    if (result === 'ok') return { ok: true };
    const failure = await lockout.fail(who);
    if (failure.locked) return { ok: false, error: lockoutMessage(failure), status: 429 };
    return { ok: false, error: message(result === 'reused' ? 'mfa.totpReused' : 'mfa.totpWrong'), status: 400 };
  }

  async function setupPage(reply: FastifyReply, ctx: AccountContext, extra: Record<string, unknown> = {}, status = 200) {
    const enrolment = await secondFactor.beginEnrolment(ctx.user.id, ctx.user.email);
    if (!enrolment) return ctx.redirect(reply, PATH);
    return ctx.render(
      reply,
      'account/mfa-setup',
      { title: message('title.mfaSetup'), qrSvg: enrolment.qrSvg, secretText: enrolment.secretText, otpauthUri: enrolment.uri, action: `${PATH}/setup`, ...extra },
      status,
    );
  }

  const showCodes = (reply: FastifyReply, ctx: AccountContext, codes: string[], heading: Text) =>
    ctx.render(reply, 'account/mfa-codes', { title: message('title.backupCodes'), heading, codes });

  scope.get(PATH, section, kit.page(async (_request, reply, ctx) => overview(reply, ctx)));

  scope.get(
    `${PATH}/setup`,
    section,
    kit.page(async (_request, reply, ctx) => {
      if ((await policyNow()) === 'off') return ctx.redirect(reply, PATH);
      return setupPage(reply, ctx);
    }),
  );

  scope.post(
    `${PATH}/setup`,
    { preHandler: kit.csrf, ...section },
    kit.page(async (request, reply, ctx) => {
      if ((await policyNow()) === 'off') return ctx.redirect(reply, PATH);
      const body = codeBody.safeParse(request.body);
      const code = body.success ? totpCode(body.data.code) : undefined;
      if (!code) return setupPage(reply, ctx, { error: message('mfa.totpMalformed') }, 400);
      const confirmed = await secondFactor.confirmEnrolment(ctx.user.id, code);
      if (confirmed.status !== 'ok') {
        const gone = confirmed.status === 'gone';
        if (gone) return ctx.redirect(reply, PATH, message('mfa.setupGone'));
        return setupPage(reply, ctx, { error: message('mfa.setupWrong') }, 400);
      }
      await auditAccountMfa(db, request, ctx.user, MfaAuditType.AccountTotpCreate);
      return showCodes(reply, ctx, confirmed.backupCodes, message('account.mfa.turnedOn'));
    }),
  );

  scope.post(
    `${PATH}/backup-codes`,
    { preHandler: kit.csrf, ...section },
    kit.page(async (request, reply, ctx) => {
      if (!(await secondFactor.enrolled(ctx.user.id))) return ctx.redirect(reply, PATH);
      const checked = await checkCode(request, ctx);
      if (!checked.ok) return overview(reply, ctx, { error: checked.error, failedForm: 'backup-codes' }, checked.status);
      const codes = await secondFactor.regenerateBackupCodes(ctx.user.id);
      await auditAccountMfa(db, request, ctx.user, MfaAuditType.AccountBackupCodesCreate);
      return showCodes(reply, ctx, codes, message('account.mfa.newCodes'));
    }),
  );

  scope.post(
    `${PATH}/disable`,
    { preHandler: kit.csrf, ...section },
    kit.page(async (request, reply, ctx) => {
      if (!(await secondFactor.enrolled(ctx.user.id))) return ctx.redirect(reply, PATH);
      if ((await policyNow()) === 'required') return overview(reply, ctx, { error: message('account.mfa.required') }, 409);
      const checked = await checkCode(request, ctx);
      if (!checked.ok) return overview(reply, ctx, { error: checked.error, failedForm: 'disable' }, checked.status);
      await secondFactor.disable(ctx.user.id);
      await auditAccountMfa(db, request, ctx.user, MfaAuditType.AccountDisable);
      return ctx.redirect(reply, PATH, message('account.mfa.turnedOff'));
    }),
  );

  return statusLine;
}
