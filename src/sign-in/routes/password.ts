import type { FastifyReply } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import { normalizeEmail } from '../email.ts';
import { passwordProblem } from '../passwords.ts';
import { onceMoreIfSignedUpMeanwhile, signInVerifiedEmail, type AccountWrite } from '../accounts.ts';
import { findUserByEmail, setPasswordHash } from '../../db/users.ts';
import { allowsSignIn, allowsSignUp, offersCode, offersPassword, PASSWORD_MAX_LENGTH, type Experience } from '../experience.ts';
import type { PageData } from '../../http/views.ts';
import { base, field, formBody, refusedField, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { lockoutMessage, message } from '../messages.ts';
import { auditPasswordRefused, PASSWORD_SIGN_IN } from '../../audit/sign-in.ts';

/** The sign-in form; the address is checked by normalizeEmail, the password's length here (to keep the address on the page). */
const signInBody = formBody({ email: field(1000), password: field(1000) });
/** "Create a password" at sign-up: a new password, judged by passwordProblem. */
const newPasswordBody = formBody({ password: field(1000) });
/** `?email=` prefills the form with the address typed on the email page; anything else is ignored. */
const passwordQuery = z.object({ email: z.string().optional().catch(undefined) });

/** Password sign-in, and "Create a password" after sign-up's code step. */
export function passwordRoutes(app: SignInApp, kit: Kit, deps: InteractionDeps): void {
  passwordSignIn(app, kit, deps);
  createPassword(app, kit, deps);
}

/** Sign-in with an address and a password, under the same lockout as codes. */
function passwordSignIn(app: SignInApp, kit: Kit, deps: InteractionDeps): void {
  const { db, codes, passwords, lockout } = deps;

  async function passwordPage(reply: FastifyReply, interaction: Interaction, experience: Experience, extra: Partial<PageData>, status = 200) {
    const uid = interaction.uid;
    return kit.page(
      reply,
      'password',
      {
        title: message('title.password'),
        appName: await kit.appNameOf(interaction),
        action: `${base(uid)}/password`,
        forgotUrl: `${base(uid)}/forgot`,
        codeAction: offersCode(experience) ? `${base(uid)}/email` : undefined,
        restartUrl: base(uid),
        cancelAction: `${base(uid)}/cancel`,
        ...extra,
      },
      status,
    );
  }

  app.get('/interaction/:uid/password', { schema: { params: uidParams, querystring: passwordQuery } }, async (request, reply) => {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return reply;
    const experience = await kit.experience();
    if (!offersPassword(experience) || !allowsSignIn(experience)) return kit.methodOff(reply);
    const typed = normalizeEmail(request.query.email);
    const state = await codes.state(interaction.uid, 'email');
    return passwordPage(reply, interaction, experience, { email: typed.ok ? typed.email : state?.email });
  });

  app.post(
    '/interaction/:uid/password',
    { schema: { params: uidParams, body: signInBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const experience = await kit.experience();
      if (!offersPassword(experience) || !allowsSignIn(experience)) return kit.methodOff(reply);
      if (request.validationError) {
        // A shape the form never sends (a repeated or over-long field): the message of the field at fault.
        const error = refusedField(request) === 'email' ? message('email.malformed') : message('password.malformed');
        return passwordPage(reply, interaction, experience, { error }, 400);
      }
      const email = normalizeEmail(request.body.email);
      const { password } = request.body;
      if (!email.ok) return passwordPage(reply, interaction, experience, { error: email.error }, 400);
      if (password.length === 0 || password.length > 256) {
        return passwordPage(reply, interaction, experience, { email: email.email, error: message('password.malformed') }, 400);
      }
      const who = kit.attempt(request, email.email);
      const lock = await kit.checkLock(request, email.email);
      if (lock.locked) {
        await auditPasswordRefused(db, request, interaction, { email: email.email, locked: true, lock });
        return passwordPage(reply, interaction, experience, { email: email.email, error: lockoutMessage(lock) }, 429);
      }

      // The same work and the same answer for an unknown address, an account without a password and a
      // wrong password: verify() hashes against a dummy when there is no hash.
      const user = await findUserByEmail(db, email.email);
      const ok = await passwords.verify(user?.passwordHash ?? null, password);
      if (!ok || !user) {
        const failure = await lockout.fail(who);
        await auditPasswordRefused(db, request, interaction, { email: email.email, user, locked: false, lock: failure });
        const error = failure.locked ? lockoutMessage(failure) : message('password.mismatch');
        return passwordPage(reply, interaction, experience, { email: email.email, error }, failure.locked ? 429 : 400);
      }
      if (user.passwordHash && passwords.needsRehash(user.passwordHash)) {
        await setPasswordHash(db, user.id, await passwords.hash(password), deps.now());
      }
      return kit.completeSignIn(request, reply, interaction, user, ['pwd'], { record: PASSWORD_SIGN_IN });
    },
  );
}

/** "Create a password" (or skip it, when optional) after sign-up's code proved the address. */
function createPassword(app: SignInApp, kit: Kit, deps: InteractionDeps): void {
  const { db, codes, passwords } = deps;

  /** The address verified by sign-up's code step in this interaction, if the account does not exist yet. */
  async function pendingSignUp(interaction: Interaction): Promise<string | undefined> {
    const email = await codes.verifiedEmail(interaction.uid, 'email');
    if (!email || (await findUserByEmail(db, email))) return undefined;
    return email;
  }

  async function createPage(reply: FastifyReply, interaction: Interaction, experience: Experience, email: string, extra: Partial<PageData> = {}, status = 200) {
    const uid = interaction.uid;
    return kit.page(
      reply,
      'new-password',
      {
        title: message('title.createPassword'),
        appName: await kit.appNameOf(interaction),
        email,
        minLength: experience.passwordPolicy.minLength,
        action: `${base(uid)}/create-password`,
        skipAction: experience.passwordAtSignUp === 'optional' ? `${base(uid)}/skip-password` : undefined,
        submitLabel: message('label.createAccount'),
        ...extra,
      },
      status,
    );
  }

  async function createAccount(request: Parameters<Kit['completeSignIn']>[0], reply: FastifyReply, interaction: Interaction, email: string, passwordHash?: string) {
    return onceMoreIfSignedUpMeanwhile(async () => {
      const outcome = await signInVerifiedEmail(db, email, { allowSignUp: true, now: deps.now(), passwordHash });
      if (!outcome) return reply.redirect(base(interaction.uid), 303);
      // The code that proved the address goes with the account it made, in the same commit.
      const write: AccountWrite = async (tx) => {
        await outcome.write(tx);
        await codes.forget(interaction.uid, 'email', tx);
      };
      return kit.completeSignIn(request, reply, interaction, outcome.user, ['email', ...(passwordHash ? ['pwd'] : [])], { record: outcome.record, write });
    });
  }

  app.get('/interaction/:uid/create-password', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return reply;
    const experience = await kit.experience();
    const email = await pendingSignUp(interaction);
    if (!email || experience.passwordAtSignUp === 'off' || !allowsSignUp(experience)) return reply.redirect(base(interaction.uid), 303);
    return createPage(reply, interaction, experience, email);
  });

  app.post(
    '/interaction/:uid/create-password',
    { schema: { params: uidParams, body: newPasswordBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const experience = await kit.experience();
      const email = await pendingSignUp(interaction);
      if (!email || experience.passwordAtSignUp === 'off' || !allowsSignUp(experience)) return reply.redirect(base(interaction.uid), 303);
      if (request.validationError) return createPage(reply, interaction, experience, email, { error: message('password.tooLong', { count: PASSWORD_MAX_LENGTH }) }, 400);
      const { password } = request.body;
      const problem = passwordProblem(password, email, experience.passwordPolicy);
      if (problem) return createPage(reply, interaction, experience, email, { error: problem }, 400);
      return createAccount(request, reply, interaction, email, await passwords.hash(password));
    },
  );

  app.post(
    '/interaction/:uid/skip-password',
    { schema: { params: uidParams, body: formBody({}) }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const experience = await kit.experience();
      const email = await pendingSignUp(interaction);
      if (!email || experience.passwordAtSignUp !== 'optional') return reply.redirect(base(interaction.uid), 303);
      return createAccount(request, reply, interaction, email);
    },
  );
}
