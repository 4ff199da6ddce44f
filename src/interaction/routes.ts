import type { FastifyInstance } from 'fastify';
import { findApplication } from '../db/applications.ts';
import { findUserById } from '../db/users.ts';
import { base, createKit, formBody, uidParams, type InteractionDeps, type UidRequest } from './kit.ts';
import { registerCodeFlow } from './code-flow.ts';
import { signInFlow } from './sign-in.ts';
import { passwordRoutes } from './password.ts';
import { recoveryFlow, recoveryRoutes } from './recovery.ts';
import { grantRequested } from './grant.ts';

export type { InteractionDeps } from './kit.ts';

interface ConsentRequest extends UidRequest {
  Body: { decision?: string; _csrf?: string };
}

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name and username',
  offline_access: 'Stay signed in when you are not using it',
};

/** Every page between an app's sign-in link and the redirect back to it. */
export async function interactionRoutes(app: FastifyInstance, deps: InteractionDeps): Promise<void> {
  const { provider, db, codes } = deps;
  const kit = createKit(app, deps);
  const signIn = signInFlow(kit, deps);
  const signInPages = registerCodeFlow(app, kit, deps, signIn);

  app.get<UidRequest>('/interaction/:uid', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await kit.details(request, reply);
    if (!interaction) return reply;
    if (interaction.prompt.name === 'login') {
      const state = await codes.state(interaction.uid, signIn.purpose);
      return signInPages.emailPage(reply, interaction, await kit.experience(), { email: state?.email ?? interaction.params.login_hint });
    }
    const accountId = interaction.session?.accountId;
    const application = await findApplication(db, String(interaction.params.client_id));
    if (!accountId || !application) {
      return kit.finish(request, reply, { error: 'access_denied', error_description: 'unknown account or application' });
    }
    if (!application.isThirdParty) {
      return kit.finish(request, reply, { consent: { grantId: await grantRequested(provider, interaction, accountId) } });
    }
    const user = await findUserById(db, accountId);
    const scopes = String(interaction.params.scope ?? 'openid')
      .split(' ')
      .filter(Boolean)
      .map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name] ?? name }));
    return kit.page(reply, 'consent', {
      title: `${application.name} wants to access your account`,
      appName: application.name,
      email: user?.email,
      scopes,
      action: `${base(interaction.uid)}/consent`,
    });
  });

  registerCodeFlow(app, kit, deps, recoveryFlow());
  passwordRoutes(app, kit, deps);
  recoveryRoutes(app, kit, deps);

  app.post<UidRequest>('/interaction/:uid/cancel', { schema: { params: uidParams }, preHandler: kit.csrf }, async (request, reply) => {
    const interaction = await kit.details(request, reply);
    if (!interaction) return reply;
    return kit.finish(request, reply, { error: 'access_denied', error_description: 'The person cancelled the sign-in.' });
  });

  app.post<ConsentRequest>(
    '/interaction/:uid/consent',
    { schema: { params: uidParams, body: formBody({ decision: 10, _csrf: 200 }) }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.details(request, reply);
      if (!interaction) return reply;
      const accountId = interaction.session?.accountId;
      if (interaction.prompt.name !== 'consent' || !accountId) return reply.redirect(base(interaction.uid), 303);
      if (request.body?.decision !== 'allow') {
        return kit.finish(request, reply, { error: 'access_denied', error_description: 'The person declined the request.' });
      }
      return kit.finish(request, reply, { consent: { grantId: await grantRequested(provider, interaction, accountId) } });
    },
  );
}

