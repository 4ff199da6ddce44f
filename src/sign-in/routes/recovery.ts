import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { passwordProblem } from '../passwords.ts';
import { signInVerifiedEmail } from '../accounts.ts';
import { findUserByEmail, setPasswordHash } from '../../db/users.ts';
import { destroyModelsByAccountId } from '../../db/oidc-models.ts';
import { allowsSignIn, offersPassword, type Experience } from '../experience.ts';
import type { CodeFlow } from './code-flow.ts';
import type { PageData } from '../../http/views.ts';
import { base, formBody, uidParams, type InteractionDeps, type Kit, type UidRequest } from '../kit.ts';

const PURPOSE = 'forgot';

/** "Forgot password?": address -> ForgotPassword code -> new password -> signed in. */
export function recoveryFlow(): CodeFlow {
  return {
    purpose: PURPOSE,
    prefix: '/forgot',
    usageType: () => 'ForgotPassword',
    // Unknown address: the same pages, nothing sent.
    phantom: (user) => !user,
    enabled: (experience) => offersPassword(experience) && allowsSignIn(experience),
    restartUrl: (uid) => `${base(uid)}/forgot`,
    emailPage: (uid) => ({
      title: 'Reset your password',
      hint: "We'll email you a 6-digit code to reset your password.",
      submitLabel: 'Send code',
      backUrl: `${base(uid)}/password`,
      backLabel: 'Back to sign in',
    }),
    codePage: () => ({ title: 'Check your email' }),
    async verified(_request, reply, interaction) {
      return reply.redirect(`${base(interaction.uid)}/reset-password`, 303);
    },
  };
}

interface ResetRequest extends UidRequest {
  Body: { password?: string; _csrf?: string };
}

export function recoveryRoutes(app: FastifyInstance, kit: Kit, deps: InteractionDeps): void {
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
        title: 'Choose a new password',
        appName: await kit.appNameOf(interaction),
        email,
        minLength: experience.passwordPolicy.minLength,
        action: `${base(interaction.uid)}/reset-password`,
        submitLabel: 'Save and sign in',
        ...extra,
      },
      status,
    );
  }

  app.get<UidRequest>('/interaction/:uid/reset-password', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return reply;
    const user = await verifiedAccount(interaction);
    if (!user) return reply.redirect(`${base(interaction.uid)}/forgot`, 303);
    return resetPage(reply, interaction, await kit.experience(), user.email);
  });

  app.post<ResetRequest>(
    '/interaction/:uid/reset-password',
    { schema: { params: uidParams, body: formBody({ password: 1000, _csrf: 200 }) }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const user = await verifiedAccount(interaction);
      if (!user) return reply.redirect(`${base(interaction.uid)}/forgot`, 303);
      const experience = await kit.experience();
      const password = String(request.body?.password ?? '');
      const problem = request.validationError ? 'Use at most 256 characters.' : passwordProblem(password, user.email, experience.passwordPolicy);
      if (problem) return resetPage(reply, interaction, experience, user.email, { error: problem }, 400);

      const hash = await passwords.hash(password);
      const at = deps.now();
      // The new password and the end of every other session and refresh token land together.
      await db.transaction(async (tx) => {
        await setPasswordHash(tx, user.id, hash, at);
        await destroyModelsByAccountId(tx, user.id);
      });
      await codes.forget(interaction.uid, PURPOSE);
      try {
        await deps.mailer().send({
          to: user.email,
          usageType: 'Generic',
          data: {
            subject: 'Your password was changed',
            message: `The password of your account ${user.email} was just changed, and every other device was signed out. If this was not you, reset your password again right away.`,
            user: { primaryEmail: user.email },
            application: { name: (await kit.appNameOf(interaction)) ?? 'Sesame' },
          },
        });
      } catch (error) {
        request.log.error({ err: error }, 'password-changed notice could not be sent');
      }
      const outcome = await signInVerifiedEmail(db, user.email, { allowSignUp: false, now: at });
      if (!outcome) return reply.redirect(base(interaction.uid), 303);
      return kit.completeSignIn(request, reply, interaction, outcome.user, ['email', 'pwd']);
    },
  );
}
