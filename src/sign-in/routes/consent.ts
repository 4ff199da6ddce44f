import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { findApplicationCached } from '../../oidc/application-cache.ts';
import { findUserById } from '../../db/users.ts';
import { base, field, formBody, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { grantRequested } from '../grant.ts';
import { message, scopeDescription } from '../messages.ts';

const consentBody = formBody({ decision: field(10) });

/**
 * The consent step, after sign-in. First-party apps (every app the CLI registers) are granted what
 * they asked for without a page; a third-party app's users see what it wants and decide.
 */
export function consentRoutes(app: SignInApp, kit: Kit, deps: InteractionDeps) {
  const { provider, db } = deps;

  /** GET /interaction/:uid when the prompt is consent. */
  async function consentStep(request: FastifyRequest, reply: FastifyReply, interaction: Interaction) {
    const accountId = interaction.session?.accountId;
    const application = await findApplicationCached(db, String(interaction.params.client_id));
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
      .map((name) => ({ name, description: scopeDescription(name) ?? name }));
    return kit.page(reply, 'consent', {
      title: message('title.consent', { appName: application.name }),
      appName: application.name,
      email: user?.email,
      scopes,
      action: `${base(interaction.uid)}/consent`,
    });
  }

  app.post(
    '/interaction/:uid/consent',
    { schema: { params: uidParams, body: consentBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.details(request, reply);
      if (!interaction) return reply;
      const accountId = interaction.session?.accountId;
      if (interaction.prompt.name !== 'consent' || !accountId) return reply.redirect(base(interaction.uid), 303);
      if (request.validationError || request.body.decision !== 'allow') {
        return kit.finish(request, reply, { error: 'access_denied', error_description: 'The person declined the request.' });
      }
      return kit.finish(request, reply, { consent: { grantId: await grantRequested(provider, interaction, accountId) } });
    },
  );

  return { consentStep };
}
