import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { setSuspended } from '../../src/management/users.ts';
import { CLI } from '../../src/management/audit.ts';
import { findUserByEmail, setPasswordHash, setUserSuspended } from '../../src/db/users.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';
import { listAuditLogs } from '../../src/audit/log.ts';
import type { Application } from '../../src/db/applications.ts';

/** A suspended account cannot sign in, and what it held stops working. */
describe('suspended users', () => {
  let sesame: TestSesameWithMail;
  let app: Application;
  let config: client.Configuration;
  const redirectUri = 'http://127.0.0.1:9/callback';

  async function signIn(email: string) {
    const start = await startAuthorization(config, redirectUri);
    const { callback } = await signInWithEmail(new HttpBrowser(), sesame.smtp, start, email, redirectUri);
    return { callback, start };
  }

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    app = await sesame.registerApp({ redirectUris: [redirectUri] });
    config = await discover(sesame.issuer, app);
  });
  afterAll(() => sesame?.stop());

  it('suspending ends the sessions and refresh tokens, and the next sign-in goes back to the app refused', async () => {
    const email = 'suspended@example.com';
    const first = await signIn(email);
    const tokens = await exchange(config, first.callback, first.start);
    expect(tokens.refresh_token).toBeTruthy();
    const user = (await findUserByEmail(sesame.db, email))!;

    await setSuspended(sesame.db, user.id, true, CLI);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const again = await signIn(email);
    const returned = new URL(again.callback);
    expect(returned.searchParams.get('error')).toBe('access_denied');
    expect(returned.searchParams.get('error_description')).toBe('this account is suspended');
    expect(returned.searchParams.get('code')).toBeNull();

    // Restored, the same person signs in as before.
    await setSuspended(sesame.db, user.id, false, CLI);
    const restored = await signIn(email);
    expect(new URL(restored.callback).searchParams.get('code')).toBeTruthy();
  });

  it('records no sign-in for a suspended account turned back, by code or by password', async () => {
    const email = 'suspended.audit@example.com';
    const password = 'a long enough passphrase 4';
    await signIn(email);
    const user = (await findUserByEmail(sesame.db, email))!;
    await setPasswordHash(sesame.db, user.id, await createPasswordHasher().hash(password), Date.now());
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'] }, Date.now());
    const signIns = async () =>
      (await listAuditLogs(sesame.db, { userId: user.id, type: 'Interaction.SignIn.Submit', page: 1, pageSize: 50 })).rows.length;
    try {
      const before = { signIns: await signIns(), lastSignInAt: user.lastSignInAt };
      await setSuspended(sesame.db, user.id, true, CLI);
      // By code.
      expect(new URL((await signIn(email)).callback).searchParams.get('error')).toBe('access_denied');
      // By password.
      const start = await startAuthorization(config, redirectUri);
      const browser = new HttpBrowser();
      const uid = /\/interaction\/([^/"?]+)/.exec((await browser.follow(start.url)).url)![1]!;
      const form = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
      const refused = await browser.submit(form, '/password', { email, password }, redirectUri);
      expect(new URL(refused.location!).searchParams.get('error')).toBe('access_denied');
      expect(await signIns()).toBe(before.signIns);
      expect((await findUserByEmail(sesame.db, email))!.lastSignInAt).toBe(before.lastSignInAt);
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'] }, Date.now());
      await setSuspended(sesame.db, user.id, false, CLI);
    }
  });

  it('refuses a refresh token of a suspended account even if it was still stored', async () => {
    const email = 'flagged@example.com';
    const { callback, start } = await signIn(email);
    const tokens = await exchange(config, callback, start);
    const user = (await findUserByEmail(sesame.db, email))!;
    // Only the flag, none of the session and token removal: findAccount alone must refuse.
    await setUserSuspended(sesame.db, user.id, true, Date.now());
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await setUserSuspended(sesame.db, user.id, false, Date.now());
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
  });
});
