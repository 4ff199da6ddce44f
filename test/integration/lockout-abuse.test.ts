import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';
import { KNOWN_DEVICE_COOKIE } from '../../src/sign-in/known-devices.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const PASSWORD = 'correct horse battery staple 42';

// Hardening item 8: guessing stays far below 100 failures per account, and someone guessing from
// another IP cannot keep the person who holds the mailbox from signing in.
describe('lockout under attack', () => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let counter = 0;

  beforeAll(async () => {
    // Requests carry X-Forwarded-For from a trusted loopback proxy, so each "browser" has its own IP.
    sesame = await startSesameWithMail({ env: { TRUST_PROXY: '127.0.0.1' } });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());

  const uniqueEmail = () => `target${++counter}.${Date.now()}@example.com`;
  const from = (ip: string) => new HttpBrowser({ 'x-forwarded-for': ip });

  async function requestCode(browser: HttpBrowser, email: string) {
    const page = await browser.follow((await startAuthorization(config, REDIRECT)).url);
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(page, '/email', { email });
    return { codePage, before };
  }

  const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

  it('counts every wrong code guess, the one that uses a code up included, and stops that IP at 10', async () => {
    const email = uniqueEmail();
    const attacker = from('203.0.113.10');
    const statuses: number[] = [];
    let last: PageResponse | undefined;
    for (let round = 0; round < 2; round += 1) {
      const { codePage, before } = await requestCode(attacker, email);
      expect(codePage.status).toBe(200);
      const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
      let page = codePage;
      for (let guess = 0; guess < 5; guess += 1) {
        page = await attacker.submit(page, '/code', { code: wrong(code) });
        statuses.push(page.status);
        last = page;
      }
    }
    // Guesses 1-9 are refused as wrong; the 10th pauses this IP for this address.
    expect(statuses.slice(0, 9).every((status) => status === 400)).toBe(true);
    expect(statuses[9]).toBe(429);
    expect(last!.body).toContain('paused');

    // A third code does not buy this IP more guesses.
    const third = await requestCode(attacker, email);
    expect(third.codePage.status).toBe(200);
    const code = codeFrom(await sesame.smtp.waitForMail(email, { after: third.before }));
    expect((await attacker.submit(third.codePage, '/code', { code: wrong(code) })).status).toBe(429);
    expect((await attacker.submit(third.codePage, '/code', { code })).status).toBe(429);

    // The person who holds the mailbox, elsewhere, still gets a code and signs in.
    const owner = from('198.51.100.20');
    const mine = await requestCode(owner, email);
    expect(mine.codePage.status).toBe(200);
    const myCode = codeFrom(await sesame.smtp.waitForMail(email, { after: mine.before }));
    const done = await owner.submit(mine.codePage, '/code', { code: myCode }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
  });

  it('pauses an address guessed at from many IPs for new browsers only: the owner’s browser still signs in', async () => {
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'], passwordAtSignUp: 'optional' }, Date.now());
    try {
      const email = uniqueEmail();
      // The owner signs up on their own browser (code, then a password): that browser is now known.
      const owner = from('198.51.100.30');
      const { codePage, before } = await requestCode(owner, email);
      const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
      const created = await owner.submit(codePage, '/code', { code });
      expect(created.body).toContain('Create a password');
      expect((await owner.submit(created, '/create-password', { password: PASSWORD }, REDIRECT)).location).toContain(REDIRECT);

      const passwordAttempt = async (browser: HttpBrowser, password: string) => {
        const start = await browser.follow((await startAuthorization(config, REDIRECT)).url);
        const uid = /\/interaction\/([^/"?]+)/.exec(start.url)![1]!;
        const page = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
        return browser.submit(page, '/password', { email, password }, REDIRECT);
      };

      // 30 wrong passwords from five IPs (6 each, under the per-IP pair threshold).
      let result: PageResponse | undefined;
      for (let ip = 0; ip < 5; ip += 1) {
        for (let i = 0; i < 6; i += 1) result = await passwordAttempt(from(`203.0.113.${100 + ip}`), `guess ${ip}-${i}`);
      }
      expect(result!.status).toBe(429);

      // A new browser anywhere is paused, even with the right password...
      const stranger = await passwordAttempt(from('192.0.2.77'), PASSWORD);
      expect(stranger.status).toBe(429);
      expect(stranger.body).toContain('A browser where you signed in before can still sign in');
      // ...but the owner's browser, from a new network and with its session over, signs in.
      owner.keepOnlyCookies([KNOWN_DEVICE_COOKIE]);
      owner.setHeader('x-forwarded-for', '192.0.2.78');
      const mine = await passwordAttempt(owner, PASSWORD);
      expect(mine.location).toContain(REDIRECT);
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'], passwordAtSignUp: 'off' }, Date.now());
    }
  });
});
