import { createHmac } from 'node:crypto';
import { HttpBrowser } from './browser.ts';
import type { TestSesame } from './sesame.ts';
import { signInVerifiedEmail } from '../../src/sign-in/accounts.ts';

const SESSION_TTL_SECONDS = 60 * 60;

/**
 * A browser in which `email` is already signed in to Sesame, made without walking the sign-in
 * pages, the way oidc-provider's own test helper logs in: the account is found or created by the
 * function a verified code calls, a Session is saved through the provider's model, and the browser
 * gets its `_session` cookie signed with the server's cookie key. An authorization request from this
 * browser then skips login; Sesame's consent step (automatic for first-party apps) grants what the
 * app asked for and returns to the app with a code, which the test exchanges as an app would.
 *
 * For tests about tokens; the sign-in pages themselves are tested by walking them
 * (helpers/oidc.ts signInWithEmail).
 */
export async function signedInBrowser(
  sesame: Pick<TestSesame, 'db' | 'provider' | 'issuer' | 'keyRing'>,
  email: string,
  options: { browser?: HttpBrowser; amr?: string[] } = {},
): Promise<{ browser: HttpBrowser; accountId: string }> {
  const browser = options.browser ?? new HttpBrowser();
  const now = Date.now();
  const outcome = await signInVerifiedEmail(sesame.db, email, { allowSignUp: true, now });
  if (!outcome) throw new Error(`could not sign ${email} in`);
  await sesame.db.transaction().execute((tx) => outcome.write(tx));
  const accountId = outcome.user.id;

  const session = new sesame.provider.Session();
  session.loginAccount({ accountId, amr: options.amr ?? ['email'], loginTs: Math.floor(now / 1000) });
  await session.save(SESSION_TTL_SECONDS);

  // oidc-provider reads signed cookies with koa's Cookies: `<name>.sig` is keygrip's HMAC-SHA1 of
  // "<name>=<value>" under the first key, base64url without padding.
  const [key] = sesame.keyRing.current().cookie;
  if (!key) throw new Error('the server has no cookie key');
  const name = sesame.provider.cookieName('session');
  const signature = createHmac('sha1', key).update(`${name}=${session.jti}`).digest('base64url');
  browser.setCookie(`${name}=${session.jti}; Path=/; HttpOnly`, sesame.issuer);
  browser.setCookie(`${name}.sig=${signature}; Path=/; HttpOnly`, sesame.issuer);
  return { browser, accountId };
}

/**
 * Follows the app's authorization URL in a signed-in browser until Sesame sends it back to
 * `redirectUri`; returns that callback URL (with the code).
 */
export async function authorizeSignedIn(browser: HttpBrowser, authorizationUrl: string, redirectUri: string): Promise<string> {
  const done = await browser.follow(authorizationUrl, {}, redirectUri);
  if (!done.location?.startsWith(redirectUri)) {
    throw new Error(`a signed-in authorization did not return to the app: ${done.status} ${done.location ?? ''} ${done.body.slice(0, 500)}`);
  }
  return done.location;
}
