import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { DemoContext } from '../context.ts';
import { endSession } from '../plugins/session.ts';

/** /sign-out: forgets the visitor here, then (when Sesame is reachable) ends the session at Sesame too. */
export const signOutRoutes: FastifyPluginAsync<DemoContext> = async (app, ctx) => {
  app.get('/sign-out', (request, reply) => signOut(ctx, request, reply));
};

async function signOut(ctx: DemoContext, request: FastifyRequest, reply: FastifyReply) {
  const idToken = request.session.get('bookstoreUser')?.idToken;
  await endSession(request, reply);
  let config: client.Configuration;
  try {
    config = await ctx.oidcConfig();
  } catch (error) {
    request.log.warn({ err: error }, 'Sesame discovery failed; signed out locally only');
    return reply.redirect('/', 303);
  }
  if (!config.serverMetadata().end_session_endpoint) return reply.redirect('/', 303);
  const parameters: Record<string, string> = { client_id: ctx.clientId, post_logout_redirect_uri: ctx.homeUrl };
  if (idToken) parameters.id_token_hint = idToken;
  return reply.redirect(client.buildEndSessionUrl(config, parameters).href, 303);
}
