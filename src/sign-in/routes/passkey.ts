import type { Interaction } from 'oidc-provider';
import { isDatabaseUnavailable } from '../../db/database.ts';
import { allowsSignIn } from '../experience.ts';
import { base, field, formBody, uidParams, type InteractionDeps, type Kit, type SignInApp } from '../kit.ts';
import { lockoutMessage, message, type MessageKey } from '../messages.ts';
import { render, type Phrase } from '../../i18n/index.ts';
import type { CodeFlowPages } from './code-flow.ts';
import { authenticationOptions, identifyAssertion, signInBinding, spendChallenge, verifyAssertion, type AuthenticationRefusal, type RelyingParty } from '../../passkeys/webauthn.ts';
import { auditPasskeyRefused, passkeySignInRecord } from '../../passkeys/audit.ts';

/**
 * "Sign in with a passkey" on the email page (issue 17): no address typed, no mail sent.
 *
 *   POST /interaction/:uid/passkey/options  JSON: a fresh challenge for this interaction (CSRF header)
 *   POST /interaction/:uid/passkey          the form the page's script fills with the browser's answer
 *
 * The answer names a discoverable credential; the account is the one it was registered to. With
 * user verification (a PIN, a fingerprint) the sign-in counts as two factors: amr hwk+user+mfa
 * (RFC 8176); without, as one (hwk). A refused answer counts towards the lockout of the account it
 * names, and a paused account is not checked at all.
 */
export const passkeyUrls = (uid: string) => ({ action: `${base(uid)}/passkey`, optionsUrl: `${base(uid)}/passkey/options` });

const answerBody = formBody({ response: field(32_000) });

/** What the person reads for each refusal (no detail that helps an attacker). */
const REFUSED: Record<AuthenticationRefusal, MessageKey> = {
  expired: 'passkey.expired',
  malformed: 'passkey.malformed',
  unknown: 'passkey.unknown',
  no_account: 'passkey.unknown',
  user_handle: 'passkey.userHandle',
  invalid: 'passkey.invalid',
  counter: 'passkey.counter',
  flags: 'passkey.flags',
};

/** Refusals that say something about the credential or the person, and so count as failed attempts. */
const COUNTS_AS_FAILURE = new Set<AuthenticationRefusal>(['user_handle', 'invalid', 'counter', 'flags']);

export function passkeyRoutes(app: SignInApp, kit: Kit, deps: InteractionDeps, pages: CodeFlowPages, rp: RelyingParty): void {
  const { db, provider, lockout } = deps;

  const refusedPage = async (reply: Parameters<CodeFlowPages['emailPage']>[0], interaction: Interaction, error: Phrase, status: number) =>
    pages.emailPage(reply, interaction, await kit.experience(), { error }, status);

  app.post('/interaction/:uid/passkey/options', { schema: { params: uidParams }, preHandler: kit.csrf }, async (request, reply) => {
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(request.raw, reply.raw);
      if (interaction.uid !== request.params.uid) throw new Error('interaction mismatch');
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      return reply.code(400).header('cache-control', 'no-store').send({ error: 'expired', message: render(message('expired.message'), await kit.languageOf(request)) });
    }
    if (interaction.prompt.name !== 'login' || !allowsSignIn(await kit.experience())) {
      return reply.code(409).header('cache-control', 'no-store').send({ error: 'not_signing_in', message: render(message('passkey.notSigningIn'), await kit.languageOf(request, interaction)) });
    }
    const options = await authenticationOptions(db, rp, signInBinding(interaction.uid), deps.now());
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post('/interaction/:uid/passkey', { schema: { params: uidParams, body: answerBody }, attachValidation: true, preHandler: kit.csrf }, async (request, reply) => {
    const interaction = await kit.loginInteraction(request, reply);
    if (!interaction) return reply;
    if (!allowsSignIn(await kit.experience())) return kit.methodOff(reply);
    const binding = signInBinding(interaction.uid);
    const identified = request.validationError ? undefined : await identifyAssertion(db, request.body.response);
    if (!identified) {
      // Spend the challenge all the same: one answer per challenge, readable or not.
      await spendChallenge(db, binding, deps.now());
      await auditPasskeyRefused(db, request, interaction, { reason: 'malformed' });
      return refusedPage(reply, interaction, message(REFUSED.malformed), 400);
    }
    const { user, passkey } = identified;
    if (user) {
      const lock = await kit.checkLock(request, user.email);
      if (lock.locked) {
        await auditPasskeyRefused(db, request, interaction, { reason: 'locked', user, passkey, lock });
        return refusedPage(reply, interaction, lockoutMessage(lock), 429);
      }
    }
    const result = await verifyAssertion(db, rp, binding, identified, deps.now());
    if (!result.ok) {
      const lock = user && COUNTS_AS_FAILURE.has(result.refused) ? await lockout.fail(kit.attempt(request, user.email)) : undefined;
      if (result.refused === 'counter' || result.refused === 'flags') {
        // Worth an operator's attention: a cloned authenticator or a replayed answer.
        request.log.warn({ userId: user?.id, passkeyId: passkey?.id, reason: result.refused, detail: result.detail }, 'passkey sign-in refused: possible cloned authenticator');
      } else if (result.detail) {
        request.log.info({ userId: user?.id, passkeyId: passkey?.id, reason: result.refused, detail: result.detail }, 'passkey sign-in refused');
      }
      await auditPasskeyRefused(db, request, interaction, { reason: result.refused, user, passkey, lock });
      const error = lock?.locked ? lockoutMessage(lock) : message(REFUSED[result.refused]);
      return refusedPage(reply, interaction, error, lock?.locked ? 429 : 400);
    }
    // RFC 8176: hwk (proof of a hardware-bound key); with user verification also user + mfa.
    const amr = result.userVerified ? ['hwk', 'user', 'mfa'] : ['hwk'];
    return kit.completeSignIn(request, reply, interaction, result.user, amr, { record: passkeySignInRecord(result.passkey, result.userVerified) });
  });
}
