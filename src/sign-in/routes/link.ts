import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../../db/database.ts';
import type { Text } from '../../http/views.ts';
import { LINK_TOKEN } from '../link-token.ts';
import type { LinkPeek } from '../codes.ts';
import { base, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { message, type MessageKey } from '../messages.ts';
import type { CodeFlow, FlowPages } from './code-flow.ts';

/** `?t=` the link's token; anything else in the query is ignored (mail clients add tracking parameters). */
const linkQuery = z.object({ t: z.string().max(200).optional() }).loose();

type Refusal = 'expired' | 'dead' | 'used' | 'invalid' | 'off';

const REFUSALS: Record<Refusal, { title: MessageKey; message: MessageKey; status: number }> = {
  expired: { title: 'link.expired.title', message: 'link.expired.message', status: 410 },
  dead: { title: 'link.dead.title', message: 'link.dead.message', status: 410 },
  used: { title: 'link.used.title', message: 'link.used.message', status: 410 },
  invalid: { title: 'link.invalid.title', message: 'link.invalid.message', status: 400 },
  off: { title: 'link.off.title', message: 'link.off.message', status: 404 },
};

/**
 * The sign-in link in a code's email: GET {ENDPOINT}/interaction/:uid/link?t=TOKEN (recovery:
 * /interaction/:uid/forgot/link). The token is the code's second form (see src/sign-in/codes.ts).
 *
 * Opened in the browser that started the sign-in (it sends oidc-provider's interaction cookie,
 * scoped to /interaction/:uid, for this uid), the GET does exactly what typing the code does: the
 * same row is checked behind the same lockout gate, a wrong token is a counted wrong guess, a right
 * one consumes the row (so the code dies with it) and the flow goes on as after a code.
 *
 * Opened anywhere else (another browser, a mail app's preview, a scanner that fetches every URL) it
 * spends and counts nothing, and signs nobody in. It shows the code, to be typed in the browser that
 * started the sign-in. Why not "continue here after a click": the interaction, its PKCE verifier and
 * the app's own session live in the first browser, and continuing a sign-in in a browser that did
 * not start it is exactly login CSRF: someone who starts a sign-in to their own account and sends
 * the link would get the victim signed in as them; someone who starts one with the victim's address
 * would be let in by the victim's click. Showing the code gives neither anything: the code is bound
 * to the interaction and only the starting browser can submit it. Wrong tokens are not counted here
 * either: only the starting browser can use the code, so only its guesses are guesses, and counting
 * cookie-less requests would let anyone who learned the uid burn the person's code.
 */
export function linkStep(app: SignInApp, kit: Kit, deps: InteractionDeps, flow: CodeFlow, { at, refused, checkedOnce }: FlowPages): void {
  const { codes, provider } = deps;

  function refusal(reply: FastifyReply, which: Refusal, extra: { backUrl?: string } = {}) {
    const { title, message: text, status } = REFUSALS[which];
    return kit.page(reply, 'error', { title: message(title), message: message(text), details: `link_${which}`, ...extra }, status);
  }

  /** The interaction behind this browser's cookie, if it is the link's; nothing is rendered either way. */
  async function startedHere(request: FastifyRequest, reply: FastifyReply, uid: string): Promise<Interaction | undefined> {
    try {
      const interaction = await provider.interactionDetails(request.raw, reply.raw);
      return interaction.uid === uid ? interaction : undefined;
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      return undefined;
    }
  }

  /** The app the sign-in is for, by uid (read only), for the page shown in another browser. */
  async function appNameByUid(uid: string): Promise<Text | undefined> {
    try {
      const interaction = await provider.Interaction.find(uid);
      return interaction ? await kit.appNameOf(interaction) : undefined;
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      return undefined;
    }
  }

  async function elsewhere(reply: FastifyReply, uid: string, peek: LinkPeek) {
    switch (peek.status) {
      case 'valid':
        return kit.page(reply, 'link', {
          title: message('link.elsewhere.title'),
          appName: await appNameByUid(uid),
          email: peek.email,
          code: peek.code,
          minutesLeft: Math.max(1, Math.floor((peek.expiresAt - deps.now()) / 60_000)),
        });
      case 'used':
        return refusal(reply, 'used');
      case 'expired':
      case 'dead':
        return refusal(reply, peek.status);
      case 'invalid':
        return refusal(reply, 'invalid');
    }
  }

  app.get(at(':uid', '/link'), { schema: { params: uidParams, querystring: linkQuery }, attachValidation: true }, async (request, reply) => {
    const experience = await kit.experience();
    if (!flow.enabled(experience)) return kit.methodOff(reply);
    if (!experience.verificationCode.link) return refusal(reply, 'off');
    const token = request.query?.t;
    if (request.validationError || typeof token !== 'string' || !LINK_TOKEN.test(token)) return refusal(reply, 'invalid');
    const { uid } = request.params;

    const interaction = await startedHere(request, reply, uid);
    if (!interaction) return elsewhere(reply, uid, await codes.peekLink(uid, flow.purpose, token));
    // This browser is past the sign-in step (e.g. on consent): carry on there, spending nothing.
    if (interaction.prompt.name !== 'login') return reply.redirect(base(uid), 303);

    // The same check as a typed code: the lockout first.
    const outcome = await checkedOnce(request, reply, interaction, 'link', () => codes.verifyLink(uid, flow.purpose, token, (email) => kit.checkLock(request, email)));
    if ('answered' in outcome) return outcome.answered;
    const { result } = outcome;
    switch (result.status) {
      case 'used':
        return refusal(reply, 'used', { backUrl: base(uid) });
      case 'missing':
        return refusal(reply, 'invalid', { backUrl: flow.restartUrl(uid) });
      default:
        return refused(request, reply, interaction, result, 'link');
    }
  });
}
