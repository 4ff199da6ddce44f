import { onceMoreIfSignedUpMeanwhile, signInVerifiedEmail } from '../accounts.ts';
import { allowsSignIn, allowsSignUp, offersCode, offersPassword, type Experience } from '../experience.ts';
import type { CodeFlow } from './code-flow.ts';
import { base, type InteractionDeps, type Kit } from '../kit.ts';
import { message } from '../messages.ts';
import { passkeyUrls } from './passkey.ts';

const passwordUrl = (uid: string, email?: string) => `${base(uid)}/password${email ? `?email=${encodeURIComponent(email)}` : ''}`;

/**
 * Email first: one page for sign-in and sign-up, so nobody can learn whether an address has an
 * account. A new address becomes an account once its code is verified (and, if the experience asks
 * for one, once a password is chosen).
 */
export function signInFlow(kit: Kit, deps: InteractionDeps): CodeFlow {
  return {
    purpose: 'email',
    prefix: '',
    usageType: (user) => (user ? 'SignIn' : 'Register'),
    phantom: (user, experience) => (user ? !allowsSignIn(experience) : !allowsSignUp(experience)),
    enabled: () => true,
    restartUrl: base,
    emailPage: (uid, experience: Experience) => ({
      cancelAction: `${base(uid)}/cancel`,
      // "Sign in with a passkey" (and the address field's passkey autofill) wherever signing in is open.
      ...(allowsSignIn(experience) && { passkey: passkeyUrls(uid) }),
      ...(offersCode(experience)
        ? { passwordUrl: offersPassword(experience) && allowsSignIn(experience) ? passwordUrl(uid) : undefined }
        : { hint: message('hint.passwordNext') }),
    }),
    codePage: (uid, experience) => ({ passwordUrl: offersPassword(experience) && allowsSignIn(experience) ? passwordUrl(uid) : undefined }),
    instead(reply, interaction, email, experience) {
      // Password-only experience: the address form leads to the password form.
      if (!offersCode(experience)) return reply.redirect(passwordUrl(interaction.uid, email), 303);
      return undefined;
    },
    verified(request, reply, interaction, email, via, use) {
      return onceMoreIfSignedUpMeanwhile(async () => {
        const experience = await kit.experience();
        const found = await kit.accountFor(request, email);
        const existing = found?.user;
        if (!existing && experience.passwordAtSignUp !== 'off' && allowsSignUp(experience)) {
          // The password form finds the address by the used code (codes.verifiedEmail).
          await use(deps.db);
          return reply.redirect(`${base(interaction.uid)}/create-password`, 303);
        }
        const outcome = await signInVerifiedEmail(deps.db, email, {
          allowSignUp: allowsSignUp(experience),
          now: deps.now(),
          via,
          lookedUp: { user: existing },
        });
        if (!outcome || (!outcome.created && !allowsSignIn(experience))) {
          // Only reachable with a phantom code, which nobody received.
          await use(deps.db);
          return reply.redirect(base(interaction.uid), 303);
        }
        // A new account has no second factor; one that exists was read with its own.
        const secondFactor = found ? found.secondFactor : false;
        return kit.completeSignIn(request, reply, interaction, outcome.user, ['email'], { record: outcome.record, secondFactor, write: outcome.write, use });
      });
    },
  };
}
