import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, startAuthorization, type AuthorizationStart } from '../helpers/oidc.ts';
import { findUserByEmail } from '../../src/db/users.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const MINUTE = 60_000;

describe('verification codes', () => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let offset = 0;
  let counter = 0;

  beforeAll(async () => {
    sesame = await startSesameWithMail({ env: { TRUST_PROXY: '127.0.0.1' }, sesame: { now: () => Date.now() + offset } });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());
  beforeEach(() => {
    sesame.smtp.refuse = false;
  });

  const uniqueEmail = () => `person${++counter}.${Date.now()}@example.com`;

  async function openEmailPage(browser = new HttpBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const page = await browser.follow(start.url);
    expect(page.status).toBe(200);
    return { browser, start, page };
  }

  async function sendCode(email: string, browser = new HttpBrowser()) {
    const { start, page } = await openEmailPage(browser);
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(page, '/email', { email });
    return { browser, start, codePage, before };
  }

  const submitCode = (browser: HttpBrowser, page: PageResponse, code: string) => browser.submit(page, '/code', { code }, REDIRECT);

  const wrongCode = (right: string) => (right === '000000' ? '111111' : '000000');

  it('kills a code after 5 wrong tries, counting down on the page, and offers a new one', async () => {
    const email = uniqueEmail();
    const { browser, codePage, before } = await sendCode(email);
    const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
    let page = codePage;
    for (const left of [4, 3, 2, 1]) {
      page = await submitCode(browser, page, wrongCode(code));
      expect(page.status).toBe(400);
      // Said once, not twice (once in the error and again below it).
      expect(page.body.split(/\d tr(?:y|ies) left/).length - 1).toBe(1);
      expect(page.body).toContain(left === 1 ? '1 try left' : `${left} tries left`);
    }
    page = await submitCode(browser, page, wrongCode(code));
    expect(page.body).toContain('no longer works');
    expect(page.body).toContain('Send a new code');
    expect(page.body).not.toContain('name="code"');
    // The right code is dead too.
    const dead = await browser.follow(page.url.replace(/\/code$/, '/code'), { form: { code, _csrf: csrfOf(page) } }, REDIRECT);
    expect(dead.location ?? '').not.toContain(REDIRECT);
    // After the cooldown a new code is sent and works.
    offset += MINUTE + 1000;
    const sentBefore = sesame.smtp.countFor(email);
    const fresh = await browser.submit(page, '/resend');
    expect(fresh.status).toBe(200);
    const newCode = codeFrom(await sesame.smtp.waitForMail(email, { after: sentBefore }));
    const done = await submitCode(browser, fresh, newCode);
    expect(done.location).toContain(REDIRECT);
  });

  it('refuses an expired code and offers a new one', async () => {
    const email = uniqueEmail();
    const { browser, codePage, before } = await sendCode(email);
    const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
    offset += 10 * MINUTE + 1000;
    const page = await submitCode(browser, codePage, code);
    expect(page.status).toBe(400);
    expect(page.body).toContain('expired');
    expect(page.body).toContain('Send a new code');
  });

  it('replaces the code on resend, keeps the failure count, and enforces the cooldown', async () => {
    const email = uniqueEmail();
    const { browser, codePage, before } = await sendCode(email);
    const first = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
    expect(codePage.body).toMatch(/data-countdown="(59|60)"/);

    const tooSoon = await browser.submit(codePage, '/resend');
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.body).toMatch(/wait \d+ s/);

    let page = await submitCode(browser, codePage, wrongCode(first));
    page = await submitCode(browser, page, wrongCode(first));
    expect(page.body).toContain('3 tries left');

    offset += MINUTE + 1000;
    const count = sesame.smtp.countFor(email);
    const resent = await browser.submit(page, '/resend');
    expect(resent.body).toContain('We sent you a new code');
    const second = codeFrom(await sesame.smtp.waitForMail(email, { after: count }));

    if (second !== first) {
      const old = await submitCode(browser, resent, first);
      expect(old.body).toContain('2 tries left');
    }
    const done = await submitCode(browser, resent, second);
    expect(done.location).toContain(REDIRECT);
  });

  it('caps codes per address at 3 per 15 minutes from one IP and 5 from all IPs', async () => {
    const email = uniqueEmail();
    const from = (ip: string) => new HttpBrowser({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i += 1) expect((await sendCode(email, from('203.0.113.1'))).codePage.status).toBe(200);
    const fourth = await sendCode(email, from('203.0.113.1'));
    expect(fourth.codePage.status).toBe(429);
    expect(fourth.codePage.body).toContain('Too many codes');
    // Someone else, elsewhere, still gets codes for the address, up to its cap of 5.
    for (let i = 0; i < 2; i += 1) expect((await sendCode(email, from('198.51.100.1'))).codePage.status).toBe(200);
    expect((await sendCode(email, from('198.51.100.2'))).codePage.status).toBe(429);
    expect(sesame.smtp.countFor(email)).toBe(5);
    offset += 15 * MINUTE + 1000;
    expect((await sendCode(email, from('198.51.100.2'))).codePage.status).toBe(200);
  });

  it('refuses a code from one interaction in another', async () => {
    const email = uniqueEmail();
    const a = await sendCode(email);
    const codeA = codeFrom(await sesame.smtp.waitForMail(email, { after: a.before }));
    const b = await sendCode(email);
    await sesame.smtp.waitForMail(email, { after: a.before + 1 });
    const page = await submitCode(b.browser, b.codePage, codeA);
    // Codes are random; in the one-in-a-million case that both are equal, the check is meaningless.
    const codeB = codeFrom(sesame.smtp.mails.filter((m) => m.to.includes(email)).at(-1)!);
    if (codeA !== codeB) expect(page.body).toContain('not right');
  });

  it('shows the same page after "send code" for a known and an unknown address', async () => {
    const known = uniqueEmail();
    const signedUp = await sendCode(known);
    const code = codeFrom(await sesame.smtp.waitForMail(known, { after: signedUp.before }));
    const done = await submitCode(signedUp.browser, signedUp.codePage, code);
    await exchange(config, done.location!, signedUp.start);
    expect(await findUserByEmail(sesame.db, known)).toBeTruthy();

    const unknown = known.replace('person', 'stranger');
    const normalize = (page: PageResponse, email: string) =>
      page.body
        .replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID')
        .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="TOKEN"')
        .replaceAll(email, 'EMAIL');
    const a = await sendCode(known);
    const b = await sendCode(unknown);
    expect(a.codePage.status).toBe(b.codePage.status);
    expect(normalize(a.codePage, known)).toBe(normalize(b.codePage, unknown));
  });

  it('sends nothing to an unknown address when sign-up is closed, with the same page', async () => {
    await saveExperience(sesame.db, { signInMode: 'SignIn' }, Date.now());
    try {
      const email = uniqueEmail();
      const { codePage } = await sendCode(email);
      expect(codePage.status).toBe(200);
      expect(codePage.body).toContain('We sent a 6-digit code');
      await new Promise((r) => setTimeout(r, 300));
      expect(sesame.smtp.countFor(email)).toBe(0);
    } finally {
      await saveExperience(sesame.db, { signInMode: 'SignInAndRegister' }, Date.now());
    }
  });

  it('says an address cannot receive mail when its server refuses it for good, and refunds the send', async () => {
    const email = uniqueEmail();
    sesame.smtp.refuse = 'permanent';
    const { browser, page } = await openEmailPage();
    const refused = await browser.submit(page, '/email', { email });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('deliver email to this address');
    expect(refused.body).not.toContain('try again in a moment');
    sesame.smtp.refuse = false;
    const retry = await browser.submit(refused, '/email', { email });
    expect(retry.status).toBe(200);
  });

  it('shows an error and leaves nothing half-done when the SMTP server refuses for now', async () => {
    const email = uniqueEmail();
    sesame.smtp.refuse = 'temporary';
    const { browser, page } = await openEmailPage();
    const refused = await browser.submit(page, '/email', { email });
    expect(refused.status).toBe(503);
    expect(refused.body).toContain('could not send the code');
    expect(await findUserByEmail(sesame.db, email)).toBeUndefined();
    // The failed attempt did not start a cooldown or count against the address.
    sesame.smtp.refuse = false;
    const retry = await browser.submit(refused, '/email', { email });
    expect(retry.status).toBe(200);
    expect(retry.body).toContain('Check your email');
  });

  it('answers malformed input with a clear 4xx page, never a 500', async () => {
    const { browser, page } = await openEmailPage();
    const cases: [Record<string, string>, RegExp][] = [
      [{ email: 'not-an-email' }, /like name@example.com/],
      [{ email: '' }, /Enter your email/],
      [{ email: `${'a'.repeat(250)}@example.com` }, /too long/],
      [{ email: 'victim@example.com\r\nBcc: attacker@evil.example' }, /line breaks/],
      [{ email: 'a@b.c, other@evil.example' }, /like name@example.com/],
      [{ email: 'x'.repeat(5000) }, /at most 254 characters/],
      [{ wrong: 'field' }, /Enter your email/],
    ];
    for (const [fields, message] of cases) {
      const response = await browser.submit(page, '/email', fields);
      expect(response.status, JSON.stringify(fields).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.body).toMatch(message);
    }
    const form = await browser.request(page.url.replace(/\/interaction\/([^/]+).*/, '/interaction/$1/email'), {
      form: { email: 'a@example.com' },
    });
    expect(form.status).toBe(403);
    expect(form.body).toContain('This form has expired');

    // Shapes a form never sends: repeated fields, JSON objects, other content types, huge bodies.
    const action = new URL(page.url.replace(/\/interaction\/([^/]+).*/, '/interaction/$1/email')).toString();
    const csrf = csrfOf(page);
    const odd: { body: string; type: string }[] = [
      { body: `_csrf=${encodeURIComponent(csrf)}&email=a%40example.com&email=b%40example.com`, type: 'application/x-www-form-urlencoded' },
      { body: JSON.stringify({ _csrf: csrf, email: { $gt: '' } }), type: 'application/json' },
      { body: JSON.stringify([1, 2, 3]), type: 'application/json' },
      { body: '{"broken json', type: 'application/json' },
      { body: 'email=a@example.com', type: 'text/plain' },
      { body: `_csrf=${encodeURIComponent(csrf)}&email=${'a'.repeat(100_000)}`, type: 'application/x-www-form-urlencoded' },
    ];
    for (const { body, type } of odd) {
      const response = await browser.request(action, { method: 'POST', body, headers: { 'content-type': type } });
      expect(response.status, `${type} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${type} ${body.slice(0, 40)}`).toBeLessThan(500);
      expect(response.body).not.toMatch(/\bat .+:\d+:\d+/);
    }
    // A repeated field is refused with the form's own message, not a generic one.
    const repeated = await browser.request(action, { method: 'POST', body: odd[0]!.body, headers: { 'content-type': odd[0]!.type } });
    expect(repeated.body).toContain('Enter one email address');

    const garbageUid = await browser.request(new URL('/interaction/%3Cscript%3E', page.url).toString());
    expect(garbageUid.status).toBeGreaterThanOrEqual(400);
    expect(garbageUid.status).toBeLessThan(500);

    const email = uniqueEmail();
    const sent = await sendCode(email);
    for (const code of ['abc', '12345', '1234567', '12 34 5x', '']) {
      const response = await sent.browser.submit(sent.codePage, '/code', { code });
      expect(response.status).toBe(400);
      expect(response.body).toContain('Enter the 6-digit code');
    }
  });

  it('cancels back to the app with access_denied', async () => {
    const email = uniqueEmail();
    const { browser, codePage } = await sendCode(email);
    const back = await browser.submit(codePage, '/cancel', {}, REDIRECT);
    expect(new URL(back.location!).searchParams.get('error')).toBe('access_denied');
  });
});

function csrfOf(page: PageResponse): string {
  return /name="_csrf" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
}
export type { AuthorizationStart };
