import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import type { Application } from '../../src/db/applications.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

describe('email-code sign-up and sign-in through the authorization code + PKCE flow', () => {
  let sesame: TestSesameWithMail;
  let app: Application;
  let config: client.Configuration;

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    app = await sesame.registerApp();
    config = await discover(sesame.issuer, app);
  });
  afterAll(() => sesame?.stop());

  it('signs up a new address, then signs the same person in again', async () => {
    const email = 'new.person@example.com';
    const first = await startAuthorization(config, REDIRECT);
    const browser = new HttpBrowser();
    const { callback } = await signInWithEmail(browser, sesame.smtp, first, email, REDIRECT);
    const tokens = await exchange(config, callback, first);
    const claims = tokens.claims()!;
    expect(claims.email).toBe(email);
    expect(claims.email_verified).toBe(true);
    expect(claims.aud).toBe(app.id);
    expect(Number.isInteger(claims.iat)).toBe(true);
    // How the person signed in (RFC 8176): in the ID token, not in userinfo (it is the session's, not the account's).
    expect(claims.amr).toEqual(['email']);
    expect(sesame.smtp.mails.at(-1)!.subject).toMatch(/.+/);

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info.email).toBe(email);
    expect(info).not.toHaveProperty('amr');

    // Refresh works and rotates; the new ID token still says how the person signed in.
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()!.amr).toEqual(['email']);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reuse of a rotated token is treated as theft: the whole grant goes, the newer token too.
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // Second sign-in in a fresh browser: same account (sub), SignIn mail rather than Register.
    const second = await startAuthorization(config, REDIRECT);
    const again = await signInWithEmail(new HttpBrowser(), sesame.smtp, second, email, REDIRECT);
    const tokens2 = await exchange(config, again.callback, second);
    expect(tokens2.claims()!.sub).toBe(claims.sub);
  });

  it('signs both browsers in to one account when a new address signs up in two at once', async () => {
    const email = 'two.tabs@example.com';
    const starts = [await startAuthorization(config, REDIRECT), await startAuthorization(config, REDIRECT)];
    const browsers = [new HttpBrowser(), new HttpBrowser()];
    // Both reach the code page, each with a code of its own, before either is typed.
    const codePages: PageResponse[] = [];
    const codes: string[] = [];
    for (const [i, start] of starts.entries()) {
      const emailPage = await browsers[i]!.follow(start.url);
      const before = sesame.smtp.countFor(email);
      codePages.push(await browsers[i]!.submit(emailPage, '/email', { email }));
      codes.push(codeFrom(await sesame.smtp.waitForMail(email, { after: before })));
    }
    // Typed at the same moment: whichever order the two land in (the second may find the account, or
    // meet the unique address at its commit and start over: see the accounts unit test), both browsers
    // end up signed in to one account.
    const done = await Promise.all(browsers.map((browser, i) => browser.submit(codePages[i]!, '/code', { code: codes[i]! }, REDIRECT)));
    for (const page of done) expect(page.location, page.body.slice(0, 300)).toContain(REDIRECT);
    const subs = await Promise.all(done.map(async (page, i) => (await exchange(config, page.location!, starts[i]!)).claims()!.sub));
    expect(subs[0]).toBe(subs[1]);
    const accounts = await sesame.db.selectFrom('users').select('id').where('email', '=', email).execute();
    expect(accounts).toEqual([{ id: subs[0] }]);
  });

  it('signs in once when the right code is submitted twice at the same moment', async () => {
    // A double click: both requests check the code right; only one may use it and sign in.
    for (let round = 0; round < 3; round += 1) {
      const email = `double.click.${round}@example.com`;
      const start = await startAuthorization(config, REDIRECT);
      const browser = new HttpBrowser();
      const emailPage = await browser.follow(start.url);
      const codePage = await browser.submit(emailPage, '/email', { email });
      const code = codeFrom(await sesame.smtp.waitForMail(email));
      // Stopping at the server's own origin: each answer as it left the server.
      const here = new URL(sesame.issuer).origin;
      const answers = await Promise.all([browser.submit(codePage, '/code', { code }, here), browser.submit(codePage, '/code', { code }, here)]);
      expect(answers.map((answer) => answer.status)).toEqual([303, 303]);
      const onward = answers.filter((answer) => answer.location!.includes('/oidc/auth/'));
      expect(onward, answers.map((answer) => answer.location).join(', ')).toHaveLength(1);
      // The other starts the sign-in page over (its code is used), where this browser carries on.
      expect(answers.find((answer) => answer !== onward[0])!.location).toMatch(/\/interaction\/[\w-]+$/);
      const accounts = await sesame.db.selectFrom('users').select('id').where('email', '=', email).execute();
      expect(accounts).toHaveLength(1);
      const records = await sesame.db.selectFrom('audit_logs').select('type').where('user_id', '=', accounts[0]!.id).execute();
      expect(records.filter((record) => record.type.startsWith('Interaction.Register') || record.type === 'Interaction.SignIn.Submit')).toHaveLength(1);
      const callback = await browser.follow(onward[0]!.location!, {}, REDIRECT);
      expect((await exchange(config, callback.location!, start)).claims()!.email).toBe(email);
    }
  });

  it('refuses a reused authorization code and a missing PKCE verifier', async () => {
    const start = await startAuthorization(config, REDIRECT);
    const { callback } = await signInWithEmail(new HttpBrowser(), sesame.smtp, start, 'reuse@example.com', REDIRECT);
    const code = new URL(callback).searchParams.get('code')!;
    const basic = `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`;
    const tokenEndpoint = config.serverMetadata().token_endpoint!;
    const post = (body: Record<string, string>) =>
      fetch(tokenEndpoint, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      });
    const withoutVerifier = await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(withoutVerifier.status).toBe(400);
    expect((await withoutVerifier.json()).error).toBe('invalid_grant');

    const start2 = await startAuthorization(config, REDIRECT);
    const second = await signInWithEmail(new HttpBrowser(), sesame.smtp, start2, 'reuse@example.com', REDIRECT);
    const code2 = new URL(second.callback).searchParams.get('code')!;
    const ok = await post({ grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT, code_verifier: start2.verifier });
    expect(ok.status).toBe(200);
    const reused = await post({ grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT, code_verifier: start2.verifier });
    expect(reused.status).toBe(400);
    expect((await reused.json()).error).toBe('invalid_grant');
  });

  it('redeems an authorization code once when two token requests bring it at the same moment', async () => {
    const basic = `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`;
    const tokenEndpoint = config.serverMetadata().token_endpoint!;
    const redeem = (code: string, verifier: string) =>
      fetch(tokenEndpoint, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
      });
    // Several rounds: each pair of requests both read the code unused (oidc-provider's own check lets
    // both through); only the write that uses it tells them apart.
    for (let round = 0; round < 3; round += 1) {
      const start = await startAuthorization(config, REDIRECT);
      const { callback } = await signInWithEmail(new HttpBrowser(), sesame.smtp, start, 'twice@example.com', REDIRECT);
      const code = new URL(callback).searchParams.get('code')!;
      const answers = await Promise.all([redeem(code, start.verifier), redeem(code, start.verifier)]);
      const bodies = await Promise.all(answers.map((answer) => answer.json() as Promise<{ error?: string; access_token?: string }>));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400]);
      expect(bodies.find((body) => body.error)?.error).toBe('invalid_grant');
      // A code used twice may be stolen: what was issued for it is revoked (RFC 6749 4.1.2).
      const issued = bodies.find((body) => body.access_token)!.access_token!;
      const userinfo = await fetch(config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${issued}` } });
      expect(userinfo.status).toBe(401);
    }
  });

  it('answers prompt=none with login_required without a session, and again after sign-out', async () => {
    const browser = new HttpBrowser();
    const silent = await startAuthorization(config, REDIRECT, { prompt: 'none' });
    const denied = await browser.follow(silent.url, {}, REDIRECT);
    expect(new URL(denied.location!).searchParams.get('error')).toBe('login_required');

    const start = await startAuthorization(config, REDIRECT);
    await signInWithEmail(browser, sesame.smtp, start, 'silent@example.com', REDIRECT);
    const silentAgain = await startAuthorization(config, REDIRECT, { prompt: 'none' });
    const granted = await browser.follow(silentAgain.url, {}, REDIRECT);
    expect(new URL(granted.location!).searchParams.get('code')).toBeTruthy();

    // Sign out the way Logto SDKs do: client_id + post_logout_redirect_uri, no id_token_hint.
    const endSession = new URL(config.serverMetadata().end_session_endpoint!);
    endSession.searchParams.set('client_id', app.id);
    endSession.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9/');
    const logoutPage = await browser.follow(endSession.toString());
    expect(logoutPage.status).toBe(200);
    expect(logoutPage.body).toContain('data-autosubmit');
    const back = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' }, 'http://127.0.0.1:9/');
    expect(back.location).toBe('http://127.0.0.1:9/');

    const afterLogout = await startAuthorization(config, REDIRECT, { prompt: 'none' });
    const deniedAgain = await browser.follow(afterLogout.url, {}, REDIRECT);
    expect(new URL(deniedAgain.location!).searchParams.get('error')).toBe('login_required');
  });

  it('asks for consent only for third-party apps, and Deny returns access_denied', async () => {
    const thirdParty = await sesame.registerApp({ name: 'Partner App', isThirdParty: true });
    const partner = await discover(sesame.issuer, thirdParty);
    const browser = new HttpBrowser();
    const start = await startAuthorization(partner, REDIRECT);
    const emailPage = await browser.follow(start.url);
    const email = 'consent@example.com';
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    const consent = await browser.submit(codePage, '/code', { code: /\b(\d{6})\b/.exec(mail.text)![1]! }, REDIRECT);
    expect(consent.status).toBe(200);
    expect(consent.body).toContain('Partner App');
    expect(consent.body).toContain('wants to access your account');
    expect(consent.body).toContain('See your email address');
    const denied = await browser.submit(consent, '/consent', { decision: 'deny' }, REDIRECT);
    expect(new URL(denied.location!).searchParams.get('error')).toBe('access_denied');

    const again = await startAuthorization(partner, REDIRECT);
    const consentAgain = await browser.follow(again.url);
    expect(consentAgain.body).toContain('wants to access your account');
    const allowed = await browser.submit(consentAgain, '/consent', { decision: 'allow' }, REDIRECT);
    const tokens = await exchange(partner, allowed.location!, again);
    expect(tokens.claims()!.email).toBe(email);
  });
});
