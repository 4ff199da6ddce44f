import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { findApplication } from '../../db/applications.ts';
import { findUserById } from '../../db/users.ts';
import { base, formBody, uidParams, type InteractionDeps, type Kit, type UidRequest } from '../kit.ts';
import { grantRequested } from '../grant.ts';

interface ConsentRequest extends UidRequest {
  Body: { decision?: string; _csrf?: string };
}

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name and username',
  offline_access: 'Stay signed in when you are not using it',
};

/**
 * The consent step, after sign-in. First-party apps (every app the CLI registers) are granted what
 * they asked for without a page; a third-party app's users see what it wants and decide.
 */
export function consentRoutes(app: FastifyInstance, kit: Kit, deps: InteractionDeps) {
  const { provider, db } = deps;

  /** GET /interaction/:uid when the prompt is consent. */
  async function consentStep(request: FastifyRequest, reply: FastifyReply, interaction: Interaction) {
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
  }

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

  return { consentStep };
}
