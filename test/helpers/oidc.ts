import * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from './browser.ts';
import { codeFrom, type SmtpCatcher } from './smtp.ts';
import type { Application } from '../../src/db/applications.ts';

export async function discover(issuer: string, app: Pick<Application, 'id' | 'secret'>): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), app.id, undefined, client.ClientSecretBasic(app.secret), {
    execute: [client.allowInsecureRequests],
  });
}

export interface AuthorizationStart {
  url: string;
  verifier: string;
  state: string;
}

export async function startAuthorization(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<AuthorizationStart> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    // OIDC ignores offline_access without prompt=consent; Logto SDKs always send it.
    prompt: 'consent',
    ...extra,
  });
  return { url: url.toString(), verifier, state };
}

/** Walks the email-code pages to the app's redirect URI; returns that callback URL. */
export async function signInWithEmail(
  browser: HttpBrowser,
  smtp: SmtpCatcher,
  start: AuthorizationStart,
  email: string,
  redirectUri: string,
): Promise<{ callback: string; codePage: PageResponse }> {
  const emailPage = await browser.follow(start.url);
  if (emailPage.status !== 200) throw new Error(`email page answered ${emailPage.status}: ${emailPage.body.slice(0, 500)}`);
  const before = smtp.countFor(email);
  const codePage = await browser.submit(emailPage, '/email', { email });
  if (codePage.status !== 200) throw new Error(`code page answered ${codePage.status}: ${codePage.body.slice(0, 500)}`);
  const mail = await smtp.waitForMail(email, { after: before });
  const done = await browser.submit(codePage, '/code', { code: codeFrom(mail) }, redirectUri);
  if (!done.location?.startsWith(redirectUri)) throw new Error(`sign-in did not return to the app: ${done.status} ${done.body.slice(0, 500)}`);
  return { callback: done.location, codePage };
}

export async function exchange(config: client.Configuration, callback: string, start: AuthorizationStart) {
  return client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: start.verifier,
    expectedState: start.state,
  });
}
