import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, startAuthorization } from '../helpers/oidc.ts';
import { findUserByEmail } from '../../src/db/users.ts';
import { saveExperience, type ExperienceChanges } from '../../src/sign-in/experience.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const MINUTE = 60_000;
const GOOD_PASSWORD = 'correct horse battery staple';

describe('sign-in experience, passwords, lockout and recovery', () => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let offset = 0;
  let counter = 0;

  beforeAll(async () => {
    sesame = await startSesameWithMail({ sesame: { now: () => Date.now() + offset } });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());

  const uniqueEmail = () => `pw${++counter}.${Date.now()}@example.com`;
  const experience = (changes: ExperienceChanges) => saveExperience(sesame.db, changes, Date.now());
  const reset = () =>
    experience({ signInMode: 'SignInAndRegister', passwordAtSignUp: 'off', signInMethods: ['verificationCode'] });

  async function open(browser = new HttpBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const page = await browser.follow(start.url);
    expect(page.status).toBe(200);
    return { browser, start, page };
  }

  async function codeStep(browser: HttpBrowser, page: PageResponse, email: string, prefix = '') {
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(page, `${prefix}/email`.replace('/forgot/email', '/forgot'), { email });
    expect(codePage.status, codePage.body.slice(0, 300)).toBe(200);
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    return { codePage, mail, next: await browser.submit(codePage, `${prefix}/code`, { code: codeFrom(mail) }, REDIRECT) };
  }

  async function signUpWithPassword(email: string, password = GOOD_PASSWORD) {
    const { browser, start, page } = await open();
    const { next } = await codeStep(browser, page, email);
    expect(next.body).toContain('Create a password');
    const done = await browser.submit(next, '/create-password', { password }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
    return exchange(config, done.location!, start);
  }

  async function passwordSignIn(email: string, password: string, browser = new HttpBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const uid = /\/interaction\/([^/"?]+)/.exec((await browser.follow(start.url)).url)![1]!;
    const page = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
    const result = await browser.submit(page, '/password', { email, password }, REDIRECT);
    return { start, result, page };
  }

  it('requires a password at sign-up when set to required, applying the policy', async () => {
    await experience({ passwordAtSignUp: 'required', signInMethods: ['verificationCode', 'password'] });
    try {
      const email = uniqueEmail();
      const { browser, page } = await open();
      expect(page.body).toContain('Sign in with a password instead');
      const { next } = await codeStep(browser, page, email);
      expect(next.body).toContain('Create a password');
      expect(next.body).not.toContain('Skip');
      expect(await findUserByEmail(sesame.db, email)).toBeUndefined();
      for (const [password, message] of [
        ['short', 'at least 8 characters'],
        ['password', 'most common'],
        ['qwerty123', 'most common'],
        [email, 'cannot be your email'],
        ['x'.repeat(257), 'at most 256'],
      ] as const) {
        const refused = await browser.submit(next, '/create-password', { password });
        expect(refused.status, password.slice(0, 20)).toBe(400);
        expect(refused.body).toContain(message);
      }
      const done = await browser.submit(next, '/create-password', { password: GOOD_PASSWORD }, REDIRECT);
      expect(done.location).toContain(REDIRECT);
      const user = await findUserByEmail(sesame.db, email);
      expect(user?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);

      const signIn = await passwordSignIn(email, GOOD_PASSWORD);
      expect(signIn.result.location).toContain(REDIRECT);
      const tokens = await exchange(config, signIn.result.location!, signIn.start);
      expect(tokens.claims()!.email).toBe(email);
    } finally {
      await reset();
    }
  });

  it('lets the person skip an optional password, and then password sign-in fails like a wrong password', async () => {
    await experience({ passwordAtSignUp: 'optional', signInMethods: ['verificationCode', 'password'] });
    try {
      const email = uniqueEmail();
      const { browser, page } = await open();
      const { next } = await codeStep(browser, page, email);
      expect(next.body).toContain('Skip');
      const done = await browser.submit(next, '/skip-password', {}, REDIRECT);
      expect(done.location).toContain(REDIRECT);
      expect((await findUserByEmail(sesame.db, email))?.passwordHash).toBeNull();

      const noPassword = await passwordSignIn(email, GOOD_PASSWORD);
      const unknown = await passwordSignIn(`nobody.${email}`, GOOD_PASSWORD);
      expect(noPassword.result.status).toBe(400);
      const message = (page: PageResponse) => /role="alert"[\s\S]*?<p>([^<]*)<\/p>/.exec(page.body)?.[1];
      expect(message(noPassword.result)).toBe(message(unknown.result));
      expect(message(noPassword.result)).toContain('do not match');
    } finally {
      await reset();
    }
  });

  it('goes straight from the address to the password with password-only sign-in, and refuses code routes', async () => {
    const email = uniqueEmail();
    await experience({ passwordAtSignUp: 'required', signInMethods: ['verificationCode', 'password'] });
    await signUpWithPassword(email);
    await experience({ signInMethods: ['password'] });
    try {
      const { browser, page } = await open();
      expect(page.body).toContain('Next, you will enter your password');
      const passwordPage = await browser.submit(page, '/email', { email });
      expect(passwordPage.body).toContain('Enter your password');
      expect(passwordPage.body).not.toContain('Email me a code instead');
      expect(sesame.smtp.countFor(email)).toBe(1);
      const done = await browser.submit(passwordPage, '/password', { email, password: GOOD_PASSWORD }, REDIRECT);
      expect(done.location).toContain(REDIRECT);
    } finally {
      await reset();
    }
  });

  it('does not offer or accept passwords when the method is off', async () => {
    const { browser, page } = await open();
    expect(page.body).not.toContain('password instead');
    const uid = /\/interaction\/([^/"?]+)/.exec(page.url)![1]!;
    const refused = await browser.request(`${sesame.config.endpoint}/interaction/${uid}/password`);
    expect(refused.status).toBe(404);
    expect(refused.body).toContain('turned off');
    const forgot = await browser.request(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
    expect(forgot.status).toBe(404);
  });

  it('refuses codes to existing accounts in Register mode, and to new addresses in SignIn mode', async () => {
    const existing = uniqueEmail();
    const { browser, page } = await open();
    const first = await codeStep(browser, page, existing);
    expect(first.next.location).toContain(REDIRECT);

    await experience({ signInMode: 'Register' });
    try {
      const again = await open();
      const sent = await again.browser.submit(again.page, '/email', { email: existing });
      expect(sent.body).toContain('Check your email');
      await new Promise((r) => setTimeout(r, 250));
      expect(sesame.smtp.countFor(existing)).toBe(1);
    } finally {
      await reset();
    }
  });

  it('pauses an address from one IP after 10 failures in 15 minutes, whether or not it exists, then lets it in again', async () => {
    await experience({ passwordAtSignUp: 'required', signInMethods: ['verificationCode', 'password'] });
    try {
      const email = uniqueEmail();
      await signUpWithPassword(email);
      for (const target of [email, `ghost.${email}`]) {
        let last: PageResponse | undefined;
        for (let i = 0; i < 10; i += 1) last = (await passwordSignIn(target, `wrong password ${i}`)).result;
        expect(last!.status).toBe(429);
        expect(last!.body).toContain('try again in 15 minutes');
        const blocked = await passwordSignIn(target, GOOD_PASSWORD);
        expect(blocked.result.status).toBe(429);
      }
      offset += 15 * MINUTE + 1000;
      const allowed = await passwordSignIn(email, GOOD_PASSWORD);
      expect(allowed.result.location).toContain(REDIRECT);

      // A second lock after the success reset is 15 minutes again; without a success it doubles.
      for (let i = 0; i < 10; i += 1) await passwordSignIn(email, `wrong ${i}`);
      offset += 15 * MINUTE + 1000;
      let last: PageResponse | undefined;
      for (let i = 0; i < 10; i += 1) last = (await passwordSignIn(email, `wrong again ${i}`)).result;
      expect(last!.body).toContain('try again in 30 minutes');
      offset += 30 * MINUTE + 1000;
    } finally {
      await reset();
    }
  });

  it('recovers a password by emailed code, revokes older refresh tokens and sends a notice', async () => {
    await experience({ passwordAtSignUp: 'required', signInMethods: ['verificationCode', 'password'] });
    try {
      const email = uniqueEmail();
      const before = await signUpWithPassword(email);
      expect(before.refresh_token).toBeTruthy();

      const { browser, page } = await open();
      const uid = /\/interaction\/([^/"?]+)/.exec(page.url)![1]!;
      const passwordPage = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
      expect(passwordPage.body).toContain('Forgot your password?');
      const forgot = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
      expect(forgot.body).toContain('Reset your password');
      const { mail, next } = await codeStep(browser, forgot, email, '/forgot');
      expect(mail.subject.toLowerCase()).toContain('password');
      expect(next.body).toContain('Choose a new password');
      expect((await browser.submit(next, '/reset-password', { password: 'password' })).status).toBe(400);
      const notices = sesame.smtp.countFor(email);
      const done = await browser.submit(next, '/reset-password', { password: 'a brand new passphrase' }, REDIRECT);
      expect(done.location).toContain(REDIRECT);

      const notice = await sesame.smtp.waitForMail(email, { after: notices });
      expect(notice.subject).toBe('Your password was changed');
      await expect(client.refreshTokenGrant(config, before.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

      expect((await passwordSignIn(email, GOOD_PASSWORD)).result.status).toBe(400);
      expect((await passwordSignIn(email, 'a brand new passphrase')).result.location).toContain(REDIRECT);

      // An unknown address walks the same pages and receives nothing.
      const other = await open();
      const otherUid = /\/interaction\/([^/"?]+)/.exec(other.page.url)![1]!;
      const forgotOther = await other.browser.follow(`${sesame.config.endpoint}/interaction/${otherUid}/forgot`);
      const stranger = `stranger.${email}`;
      const sent = await other.browser.submit(forgotOther, '/forgot', { email: stranger });
      expect(sent.status).toBe(200);
      expect(sent.body).toContain('Check your email');
      await new Promise((r) => setTimeout(r, 250));
      expect(sesame.smtp.countFor(stranger)).toBe(0);
    } finally {
      await reset();
    }
  });

  it('takes about as long for an unknown address as for a wrong password (measured, loosely bounded)', async () => {
    await experience({ passwordAtSignUp: 'required', signInMethods: ['verificationCode', 'password'] });
    try {
      const email = uniqueEmail();
      await signUpWithPassword(email);
      const time = async (target: string) => {
        const { browser, page } = await open();
        const uid = /\/interaction\/([^/"?]+)/.exec(page.url)![1]!;
        const form = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
        const started = performance.now();
        await browser.submit(form, '/password', { email: target, password: 'not the right one' });
        return performance.now() - started;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        known.push(await time(email));
        unknown.push(await time(`nobody${i}.${email}`));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const ratio = median(unknown) / median(known);
      console.info(`password check: wrong password ${median(known).toFixed(1)} ms, unknown address ${median(unknown).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
      // Same order of magnitude: without the dummy hash the unknown case would be ~50x faster.
      expect(ratio).toBeGreaterThan(0.3);
      expect(ratio).toBeLessThan(3);
    } finally {
      await reset();
    }
  });
});
