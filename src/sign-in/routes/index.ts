import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { createKit, uidParams, type InteractionDeps } from '../kit.ts';
import { registerCodeFlow } from './code-flow.ts';
import { signInFlow } from './email-code.ts';
import { passwordRoutes } from './password.ts';
import { recoveryFlow, recoveryRoutes } from './recovery.ts';
import { consentRoutes } from './consent.ts';
import { mfaRoutes } from './mfa.ts';
import { findPending } from '../../db/mfa.ts';
import { passkeyRoutes } from './passkey.ts';
import type { RelyingParty } from '../../passkeys/webauthn.ts';

export type { InteractionDeps } from '../kit.ts';

/**
 * Every page between an app's sign-in link and the redirect back to it, one module per step: the
 * emailed code (sign-in and sign-up), the password, recovery by code, and consent.
 */
export async function interactionRoutes(scope: FastifyInstance, deps: InteractionDeps, passkeys: { relyingParty: RelyingParty }): Promise<void> {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const kit = createKit(app, deps);
  const signIn = signInFlow(kit, deps);
  const signInPages = registerCodeFlow(app, kit, deps, signIn);
  const consent = consentRoutes(app, kit, deps);

  // Where oidc-provider sends the browser: the step the interaction's prompt asks for.
  app.get('/interaction/:uid', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await kit.details(request, reply);
    if (!interaction) return reply;
    if (interaction.prompt.name === 'login') {
      // Nothing done yet in this interaction from this browser (the first visit of every sign-in): no
      // second factor can be due and no code sent, so neither is looked up (src/sign-in/progress-hint.ts).
      const started = deps.progress.marked(request, interaction.uid);
      // First factor passed, second still due: back to that step, not to the start.
      if (started && (await findPending(deps.db, interaction.uid, deps.now()))) return reply.redirect(`/interaction/${interaction.uid}/mfa`, 303);
      const state = started ? await deps.codes.state(interaction.uid, signIn.purpose) : undefined;
      return signInPages.emailPage(reply, interaction, await kit.experience(), { email: state?.email ?? interaction.params.login_hint });
    }
    return consent.consentStep(request, reply, interaction);
  });

  registerCodeFlow(app, kit, deps, recoveryFlow(deps));
  passwordRoutes(app, kit, deps);
  recoveryRoutes(app, kit, deps);
  mfaRoutes(app, kit, deps);
  // Passkey sign-in from the email page (no address, no mail).
  passkeyRoutes(app, kit, deps, signInPages, passkeys.relyingParty);

  app.post('/interaction/:uid/cancel', { schema: { params: uidParams }, preHandler: kit.csrf }, async (request, reply) => {
    const interaction = await kit.details(request, reply);
    if (!interaction) return reply;
    return kit.finish(request, reply, { error: 'access_denied', error_description: 'The person cancelled the sign-in.' });
  });
}
