import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import { deletePending, findPending, markSecondFactorSetUp, type PendingSignIn } from '../../db/mfa.ts';
import { findUserById, type User } from '../../db/users.ts';
import type { PageData } from '../../http/views.ts';
import { auditSecondFactor, auditTotpCreated, type SecondFactorMethod } from '../../mfa/audit.ts';
import { base, field, formBody, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { lockoutMessage, message } from '../messages.ts';

/** Which form the step shows: the authenticator's code (default) or a backup code. */
const stepQuery = z.object({ method: z.enum(['totp', 'backup']).optional().catch(undefined) });
const verifyBody = formBody({ method: z.enum(['totp', 'backup']).default('totp'), code: field(100) });
const setupBody = formBody({ code: field(100) });

/** Six digits, spaces allowed anywhere (people copy "123 456"); undefined otherwise. */
export function totpCode(typed: string): string | undefined {
  const code = typed.replace(/\s+/g, '');
  return /^\d{6}$/.test(code) ? code : undefined;
}

/** The amr of a sign-in that passed both factors: the first factor's, with a one-time code and "mfa". */
const withSecondFactor = (amr: string[]) => [...new Set([...amr, 'otp', 'mfa'])];

/**
 * The second step of a sign-in (kit.completeSignIn sends people here): a code from the authenticator
 * app or a backup code, or, when the experience requires a second factor and the person has none,
 * setting up an authenticator and saving backup codes. What the first step proved is kept on the
 * server for this interaction only (mfa_pending), so the step cannot be skipped by going back to the
 * app, nor finished on another interaction. Wrong codes count towards the same lockout as wrong
 * email codes and passwords, for the account's address.
 */
export function mfaRoutes(app: SignInApp, kit: Kit, deps: InteractionDeps): void {
  const { db, lockout } = deps;
  const { secondFactor } = kit;

  /** The interaction, its pending sign-in and the account; or the request is answered (back to the start). */
  async function pendingStep(request: FastifyRequest & { params: z.infer<typeof uidParams> }, reply: FastifyReply) {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return undefined;
    const pending = await findPending(db, interaction.uid, deps.now());
    const user = pending && (await findUserById(db, pending.userId));
    if (!pending || !user) {
      await reply.redirect(base(interaction.uid), 303);
      return undefined;
    }
    return { interaction, pending, user };
  }

  /**
   * Ends the pending sign-in (once: a second request racing this one goes back to the start) and
   * signs in, recording the sign-in the first factor began.
   */
  async function complete(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, user: User, pending: PendingSignIn, amr = pending.amr) {
    if (!(await deletePending(db, interaction.uid))) return reply.redirect(base(interaction.uid), 303);
    return kit.completeSignIn(request, reply, interaction, user, amr, { record: pending.record });
  }

  async function stepPage(reply: FastifyReply, interaction: Interaction, user: User, method: SecondFactorMethod, extra: Partial<PageData> = {}, status = 200) {
    const uid = interaction.uid;
    const left = (await secondFactor.backupCodes(user.id))?.left ?? 0;
    return kit.page(
      reply,
      'mfa',
      {
        title: message('title.mfa'),
        appName: await kit.appNameOf(interaction),
        email: user.email,
        method,
        action: `${base(uid)}/mfa`,
        switchUrl: method === 'totp' ? `${base(uid)}/mfa?method=backup` : `${base(uid)}/mfa`,
        backupCodesLeft: left,
        cancelAction: `${base(uid)}/cancel`,
        ...extra,
      },
      status,
    );
  }

  async function setupPage(reply: FastifyReply, interaction: Interaction, user: User, extra: Partial<PageData> = {}, status = 200) {
    const enrolment = await secondFactor.beginEnrolment(user.id, user.email);
    if (!enrolment) return reply.redirect(`${base(interaction.uid)}/mfa`, 303);
    return kit.page(
      reply,
      'mfa-setup',
      {
        title: message('title.mfaSetup'),
        appName: await kit.appNameOf(interaction),
        email: user.email,
        qrSvg: enrolment.qrSvg,
        secretText: enrolment.secretText,
        otpauthUri: enrolment.uri,
        action: `${base(interaction.uid)}/mfa/setup`,
        cancelAction: `${base(interaction.uid)}/cancel`,
        ...extra,
      },
      status,
    );
  }

  /** When nothing is to be proved any more (an administrator reset the factor meanwhile), or something must be set up. */
  async function redirectIfNotEnrolled(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, pending: PendingSignIn, user: User) {
    const next = await secondFactor.needed(user.id, (await kit.experience()).mfa.policy);
    if (next === 'verify') return undefined;
    if (next === 'setup') return reply.redirect(`${base(interaction.uid)}/mfa/setup`, 303);
    // completeSignIn asks again, and comes back here if that changed in between.
    return complete(request, reply, interaction, user, pending);
  }

  app.get('/interaction/:uid/mfa', { schema: { params: uidParams, querystring: stepQuery } }, async (request, reply) => {
    const step = await pendingStep(request, reply);
    if (!step) return reply;
    const { interaction, pending, user } = step;
    const redirected = await redirectIfNotEnrolled(request, reply, interaction, pending, user);
    if (redirected) return redirected;
    return stepPage(reply, interaction, user, request.query.method ?? 'totp');
  });

  app.post(
    '/interaction/:uid/mfa',
    { schema: { params: uidParams, body: verifyBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const step = await pendingStep(request, reply);
      if (!step) return reply;
      const { interaction, pending, user } = step;
      const redirected = await redirectIfNotEnrolled(request, reply, interaction, pending, user);
      if (redirected) return redirected;
      const method: SecondFactorMethod = request.validationError ? 'totp' : request.body.method;
      const malformed = message(method === 'totp' ? 'mfa.totpMalformed' : 'mfa.backupMalformed');
      if (request.validationError) return stepPage(reply, interaction, user, method, { error: malformed }, 400);
      const typed = request.body.code;
      const code = method === 'totp' ? totpCode(typed) : typed.trim();
      if (!code) return stepPage(reply, interaction, user, method, { error: malformed }, 400);

      // The lockout first, for the account's address, as for a code or password (Lockout.check).
      const audit = { userId: user.id, email: user.email, method };
      const lock = await kit.checkLock(request, user.email);
      if (lock.locked) {
        await auditSecondFactor(db, request, interaction, { ...audit, result: 'locked' });
        return stepPage(reply, interaction, user, method, { error: lockoutMessage(lock) }, 429);
      }
      const result = method === 'totp' ? await secondFactor.verifyTotp(user.id, code) : (await secondFactor.verifyBackupCode(user.id, code)) ? 'ok' : 'wrong';
      if (result === 'ok') {
        await auditSecondFactor(db, request, interaction, { ...audit, result });
        return complete(request, reply, interaction, user, pending, withSecondFactor(pending.amr));
      }
      // A reused code counts too: whoever sends it did not have the current one.
      const failure = await lockout.fail(kit.attempt(request, user.email));
      await auditSecondFactor(db, request, interaction, { ...audit, result, lock: failure });
      if (failure.locked) return stepPage(reply, interaction, user, method, { error: lockoutMessage(failure) }, 429);
      const error = method === 'backup' ? message('mfa.backupWrong') : result === 'reused' ? message('mfa.totpReused') : message('mfa.totpWrong');
      return stepPage(reply, interaction, user, method, { error }, 400);
    },
  );

  app.get('/interaction/:uid/mfa/setup', { schema: { params: uidParams } }, async (request, reply) => {
    const step = await pendingStep(request, reply);
    if (!step) return reply;
    const { interaction, user } = step;
    if (await secondFactor.enrolled(user.id)) return reply.redirect(`${base(interaction.uid)}/mfa`, 303);
    return setupPage(reply, interaction, user);
  });

  app.post(
    '/interaction/:uid/mfa/setup',
    { schema: { params: uidParams, body: setupBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const step = await pendingStep(request, reply);
      if (!step) return reply;
      const { interaction, user } = step;
      if (await secondFactor.enrolled(user.id)) return reply.redirect(`${base(interaction.uid)}/mfa`, 303);
      const code = request.validationError ? undefined : totpCode(request.body.code);
      if (!code) return setupPage(reply, interaction, user, { error: message('mfa.totpMalformed') }, 400);
      // No lockout here: the person is looking at the secret; a wrong code proves nothing about anyone.
      const confirmed = await secondFactor.confirmEnrolment(user.id, code);
      if (confirmed.status !== 'ok') {
        const gone = confirmed.status === 'gone';
        return setupPage(reply, interaction, user, { error: message(gone ? 'mfa.setupGone' : 'mfa.setupWrong') }, gone ? 409 : 400);
      }
      await markSecondFactorSetUp(db, interaction.uid, deps.now());
      await auditTotpCreated(db, request, interaction, user);
      // Shown once, in this answer only: a reload shows nothing (they can be made anew on the account page).
      return kit.page(reply, 'mfa-backup-codes', {
        title: message('title.backupCodes'),
        appName: await kit.appNameOf(interaction),
        email: user.email,
        codes: confirmed.backupCodes,
        action: `${base(interaction.uid)}/mfa/setup/done`,
      });
    },
  );

  // "I saved them": only after the authenticator was set up in this very interaction.
  app.post(
    '/interaction/:uid/mfa/setup/done',
    { schema: { params: uidParams, body: formBody({}) }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const step = await pendingStep(request, reply);
      if (!step) return reply;
      const { interaction, pending, user } = step;
      if (pending.secondAt === null) return reply.redirect(`${base(interaction.uid)}/mfa`, 303);
      return complete(request, reply, interaction, user, pending, withSecondFactor(pending.amr));
    },
  );
}
