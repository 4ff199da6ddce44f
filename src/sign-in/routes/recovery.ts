import type { FastifyReply } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { passwordProblem } from '../passwords.ts';
import { signInVerifiedEmail } from '../accounts.ts';
import { findUserByEmail, setPasswordHash } from '../../db/users.ts';
import { destroyModelsByAccountId } from '../../db/oidc-models.ts';
import { allowsSignIn, offersPassword, PASSWORD_MAX_LENGTH, type Experience } from '../experience.ts';
import type { CodeFlow } from './code-flow.ts';
import type { PageData } from '../../http/views.ts';
import { base, field, formBody, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { message } from '../messages.ts';
import { render } from '../../i18n/index.ts';
import { recordPasswordReset } from '../../audit/sign-in.ts';

const PURPOSE = 'forgot';

/** "Forgot password?": address -> ForgotPassword code -> new password -> signed in. */
export function recoveryFlow(deps: Pick<InteractionDeps, 'db'>): CodeFlow {
  return {
    purpose: PURPOSE,
    prefix: '/forgot',
    usageType: () => 'ForgotPassword',
    // Unknown address: the same pages, nothing sent.
    phantom: (user) => !user,
    enabled: (experience) => offersPassword(experience) && allowsSignIn(experience),
    restartUrl: (uid) => `${base(uid)}/forgot`,
    emailPage: (uid) => ({
      title: message('title.forgotPassword'),
      hint: message('hint.forgotPassword'),
      submitLabel: message('label.sendCode'),
      backUrl: `${base(uid)}/password`,
      backLabel: message('label.backToSignIn'),
    }),
    codePage: () => ({ title: message('title.checkEmail') }),
    async verified(_request, reply, interaction, _email, _via, use) {
      // The reset form finds the address by the used code (codes.verifiedEmail).
      await use(deps.db);
      return reply.redirect(`${base(interaction.uid)}/reset-password`, 303);
    },
  };
}

const resetBody = formBody({ password: field(1000) });

export function recoveryRoutes(app: SignInApp, kit: Kit, deps: InteractionDeps): void {
  const { db, codes, passwords } = deps;

  async function verifiedAccount(interaction: Interaction) {
    const email = await codes.verifiedEmail(interaction.uid, PURPOSE);
    return email ? findUserByEmail(db, email) : undefined;
  }

  async function resetPage(reply: FastifyReply, interaction: Interaction, experience: Experience, email: string, extra: Partial<PageData> = {}, status = 200) {
    return kit.page(
      reply,
      'new-password',
      {
        title: message('title.resetPassword'),
        appName: await kit.appNameOf(interaction),
        email,
        minLength: experience.passwordPolicy.minLength,
        action: `${base(interaction.uid)}/reset-password`,
        submitLabel: message('label.saveAndSignIn'),
        ...extra,
      },
      status,
    );
  }

  app.get('/interaction/:uid/reset-password', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return reply;
    const user = await verifiedAccount(interaction);
    if (!user) return reply.redirect(`${base(interaction.uid)}/forgot`, 303);
    return resetPage(reply, interaction, await kit.experience(), user.email);
  });

  app.post(
    '/interaction/:uid/reset-password',
    { schema: { params: uidParams, body: resetBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const user = await verifiedAccount(interaction);
      if (!user) return reply.redirect(`${base(interaction.uid)}/forgot`, 303);
      const experience = await kit.experience();
      if (request.validationError) return resetPage(reply, interaction, experience, user.email, { error: message('password.tooLong', { count: PASSWORD_MAX_LENGTH }) }, 400);
      const { password } = request.body;
      const problem = passwordProblem(password, user.email, experience.passwordPolicy);
      if (problem) return resetPage(reply, interaction, experience, user.email, { error: problem }, 400);

      const hash = await passwords.hash(password);
      const at = deps.now();
      // The new password and the end of every other session and refresh token land together.
      await db.transaction().execute(async (tx) => {
        await setPasswordHash(tx, user.id, hash, at);
        await destroyModelsByAccountId(tx, user.id);
        await recordPasswordReset(tx, request, interaction, user);
      });
      await codes.forget(interaction.uid, PURPOSE);
      try {
        // In the language of the page the person is on.
        const locale = await kit.languageOf(request);
        await deps.mailer().send({
          to: user.email,
          usageType: 'Generic',
          data: {
            subject: render(message('mail.passwordChanged.subject'), locale),
            message: render(message('mail.passwordChanged.message', { email: user.email }), locale),
            locale,
            user: { primaryEmail: user.email },
            application: { name: render((await kit.appNameOf(interaction)) ?? 'Sesame', locale) },
          },
        });
      } catch (error) {
        request.log.error({ err: error }, 'password-changed notice could not be sent');
      }
      const outcome = await signInVerifiedEmail(db, user.email, { allowSignUp: false, now: at, method: 'ForgotPassword' });
      if (!outcome) return reply.redirect(base(interaction.uid), 303);
      return kit.completeSignIn(request, reply, interaction, outcome.user, ['email', 'pwd'], { record: outcome.record, write: outcome.write });
    },
  );
}
