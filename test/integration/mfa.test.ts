import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, startAuthorization, type AuthorizationStart } from '../helpers/oidc.ts';
import { sesameCli } from '../helpers/cli.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';
import { findUserByEmail, setPasswordHash } from '../../src/db/users.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { listAuditLogs } from '../../src/audit/log.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { countFailures } from '../../src/db/lockout.ts';
import { insertPasskey } from '../../src/db/passkeys.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const STEP_MS = 30_000;

/**
 * The second factor against a real server, a real SMTP server and openid-client: the policies, the
 * sign-in step (TOTP and backup codes), the forced setup, the lockout, replay and skipping, and an
 * administrator's reset through the API and the CLI. TOTP codes are made here from the secret the
 * setup page shows, at the server's clock (which the test can move on by whole time steps).
 */
describe('second factor (TOTP and backup codes)', () => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let offset = 0;
  let counter = 0;
  const serverNow = () => Date.now() + offset;

  beforeAll(async () => {
    // Each browser gets its own client IP through a trusted loopback proxy.
    sesame = await startSesameWithMail({ env: { TRUST_PROXY: '127.0.0.1' }, sesame: { now: serverNow } });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());

  const uniqueEmail = () => `mfa${++counter}.${Date.now()}@example.com`;
  const policy = (value: 'off' | 'optional' | 'required') => saveExperience(sesame.db, { mfa: { policy: value } }, Date.now());
  let ipCounter = 0;
  const newBrowser = () => new HttpBrowser({ 'x-forwarded-for': `198.51.100.${++ipCounter}` });
  const totp = (secret: string, at = serverNow()) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at });
  /** Moves the server's clock to the next time step, so a new code is current. */
  const nextStep = () => {
    offset += STEP_MS;
  };
  const uidOf = (page: PageResponse) => /\/interaction\/([^/"?]+)/.exec(page.url)![1]!;

  /** The email-code first factor; returns the page it leads to (without following past the app's callback). */
  async function firstFactor(email: string, browser = newBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.status, codePage.body.slice(0, 300)).toBe(200);
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    const next = await browser.submit(codePage, '/code', { code: codeFrom(mail) }, REDIRECT);
    return { browser, start, next, uid: uidOf(emailPage) };
  }

  const secretOf = (page: PageResponse) => /id="totp-secret">([A-Z2-7 ]+)</.exec(page.body)![1]!.replace(/ /g, '');
  const codesOf = (page: PageResponse) => [...page.body.matchAll(/<li><code>([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);

  /** Signs up under the required policy: setup, confirm, the backup codes page, "I saved them". */
  async function enrol(email: string) {
    await policy('required');
    const { browser, start, next } = await firstFactor(email);
    expect(next.status).toBe(200);
    expect(next.url).toMatch(/\/mfa\/setup$/);
    const secret = secretOf(next);
    const codesPage = await browser.submit(next, '/mfa/setup', { code: totp(secret) });
    expect(codesPage.status).toBe(200);
    const codes = codesOf(codesPage);
    expect(codes).toHaveLength(10);
    const done = await browser.submit(codesPage, '/mfa/setup/done', {}, REDIRECT);
    expect(done.location).toContain(REDIRECT);
    const tokens = await exchange(config, done.location!, start);
    return { secret, codes, tokens, browser };
  }

  /** The amr oidc-provider's session (the newest of the account) holds for the sign-in. */
  async function sessionAmr(email: string): Promise<string[]> {
    const user = (await findUserByEmail(sesame.db, email))!;
    const rows = await sesame.db.selectFrom('oidc_model_instances').select('payload').where('model', '=', 'Session').where('account_id', '=', user.id).execute();
    const sessions = rows.map((row) => JSON.parse(row.payload) as { amr?: string[]; loginTs?: number }).sort((a, b) => (b.loginTs ?? 0) - (a.loginTs ?? 0));
    return sessions[0]?.amr ?? [];
  }

  async function mfaStep(email: string, browser = newBrowser()) {
    const first = await firstFactor(email, browser);
    expect(first.next.status).toBe(200);
    expect(first.next.url).toMatch(/\/mfa$/);
    return first;
  }

  it('policy off (the default) changes nothing: the code alone signs in', async () => {
    await policy('off');
    const email = uniqueEmail();
    const { next, start } = await firstFactor(email);
    expect(next.location).toContain(REDIRECT);
    await exchange(config, next.location!, start);
    expect(await sessionAmr(email)).toEqual(['email']);
  });

  it('required: sets up an authenticator at the next sign-in, shows the backup codes once, then signs in with otp and mfa', async () => {
    await policy('required');
    const email = uniqueEmail();
    const { browser, next, uid } = await firstFactor(email);
    expect(next.url).toMatch(/\/mfa\/setup$/);
    // The page: a server-made SVG QR code and the secret as text, no external image.
    expect(next.body).toContain('<svg');
    expect(next.body).not.toMatch(/<img[^>]+src="https?:/);
    expect(next.body).toContain('autocomplete="one-time-code"');
    expect(next.body).toContain('inputmode="numeric"');
    expect(next.headers.get('content-security-policy')).toBeTruthy();
    const secret = secretOf(next);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    // A reload shows the same secret; a wrong code is refused.
    const again = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/mfa/setup`);
    expect(secretOf(again)).toBe(secret);
    const wrong = await browser.submit(again, '/mfa/setup', { code: totp(secret, serverNow() + 10 * STEP_MS) });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('does not match');
    const malformed = await browser.submit(again, '/mfa/setup', { code: '12ab' });
    expect(malformed.status).toBe(400);

    // "I saved them" before the setup is confirmed goes back to the step, not to the app.
    const early = await browser.request(`${sesame.config.endpoint}/interaction/${uid}/mfa/setup/done`, { form: { _csrf: /name="_csrf" value="([^"]+)"/.exec(again.body)![1]! } });
    expect(early.location ?? '').not.toContain(REDIRECT);

    const codesPage = await browser.submit(again, '/mfa/setup', { code: totp(secret) });
    expect(codesPage.status).toBe(200);
    const codes = codesOf(codesPage);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    // Shown once: the setup page now leads to the verify step, and the codes are nowhere to be seen.
    const reload = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/mfa/setup`);
    expect(reload.url).toMatch(/\/mfa$/);
    expect(reload.body).not.toContain(codes[0]!);

    const done = await browser.submit(codesPage, '/mfa/setup/done', {}, REDIRECT);
    expect(done.location).toContain(REDIRECT);

    // Stored: the secret as enrolled, the codes hashed (no code in clear anywhere in the table).
    const user = (await findUserByEmail(sesame.db, email))!;
    const rows = await sesame.db.selectFrom('mfa_backup_codes').selectAll().where('user_id', '=', user.id).execute();
    expect(rows).toHaveLength(10);
    for (const row of rows) for (const code of codes) expect(row.code_hash).not.toContain(code.replace('-', ''));
    const audit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Interaction.SignIn.MfaVerification.*', page: 1, pageSize: 20 });
    expect(audit.rows.map((row) => row.type)).toContain('Interaction.SignIn.MfaVerification.Totp.Create');
  });

  it('asks for the TOTP code at every sign-in; amr has otp and mfa; a used code is refused the second time', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    nextStep();
    const { browser, next, start } = await mfaStep(email);
    expect(next.body).toContain('autocomplete="one-time-code"');
    const code = totp(secret);
    const done = await browser.submit(next, '/mfa', { method: 'totp', code: `${code.slice(0, 3)} ${code.slice(3)}` }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
    const tokens = await exchange(config, done.location!, start);
    // The app can tell that both factors were proved.
    expect(tokens.claims()!.amr).toEqual(['email', 'otp', 'mfa']);
    expect(await sessionAmr(email)).toEqual(['email', 'otp', 'mfa']);

    // The same code, within its 30 s, on another sign-in: refused.
    const second = await mfaStep(email);
    const reused = await second.browser.submit(second.next, '/mfa', { method: 'totp', code });
    expect(reused.status).toBe(400);
    expect(reused.body).toContain('already used');
    // A code of an earlier step (still inside the ±1 window) is refused too: only later steps count.
    const earlier = await second.browser.submit(second.next, '/mfa', { method: 'totp', code: totp(secret, serverNow() - STEP_MS) });
    expect(earlier.status).toBe(400);
    nextStep();
    const fresh = await second.browser.submit(second.next, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT);
    expect(fresh.location).toContain(REDIRECT);
  });

  it('back at the sign-in page with a second factor due: sent on to it; without the progress hint, the address form and then the same step', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    nextStep();
    const { browser, uid, start } = await mfaStep(email);
    expect(browser.hasCookie('_sesame_progress')).toBe(true);
    const back = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}`);
    expect(back.url).toMatch(/\/mfa$/);

    // The hint decides nothing: a browser that lost it sees the address form, and the first factor
    // leads to the second factor all the same.
    browser.forgetCookie('_sesame_progress');
    const emailPage = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}`);
    expect(emailPage.status).toBe(200);
    expect(emailPage.url).toMatch(new RegExp(`/interaction/${uid}$`));
    expect(emailPage.body).toContain('name="email"');
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    const again = await browser.submit(codePage, '/code', { code: codeFrom(await sesame.smtp.waitForMail(email, { after: before })) }, REDIRECT);
    expect(again.url).toMatch(/\/mfa$/);
    const done = await browser.submit(again, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
    expect((await exchange(config, done.location!, start)).id_token).toBeTruthy();
  });

  it('accepts a backup code once, and the person can switch between the two forms', async () => {
    const email = uniqueEmail();
    const { codes } = await enrol(email);
    const { browser, next } = await mfaStep(email);
    expect(next.body).toContain('Use a backup code instead');
    const backupForm = await browser.follow(`${next.url}?method=backup`);
    expect(backupForm.body).toContain('Backup code');
    expect(backupForm.body).toContain('Use your authenticator app instead');
    const done = await browser.submit(backupForm, '/mfa', { method: 'backup', code: codes[3]!.toUpperCase() }, REDIRECT);
    expect(done.location).toContain(REDIRECT);

    const again = await mfaStep(email);
    const used = await again.browser.submit(await again.browser.follow(`${again.next.url}?method=backup`), '/mfa', { method: 'backup', code: codes[3]! });
    expect(used.status).toBe(400);
    expect(used.body).toContain('already used');
    const other = await again.browser.submit(used, '/mfa', { method: 'backup', code: codes[4]!.replace('-', ' ') }, REDIRECT);
    expect(other.location).toContain(REDIRECT);
  });

  it('optional: nobody is asked until they turn it on; then the sign-in asks for the code', async () => {
    await policy('optional');
    const email = uniqueEmail();
    const plain = await firstFactor(email);
    expect(plain.next.location).toContain(REDIRECT);
    // Enrolled while required (the account page is the other way, tested with it); then optional.
    const { secret } = await enrol(email);
    await policy('optional');
    nextStep();
    const { browser, next } = await mfaStep(email);
    const done = await browser.submit(next, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
  });

  /** Signs in to the account page the real way (its own OIDC sign-in through Sesame's pages), email code first. */
  async function accountSignIn(email: string, browser = newBrowser()) {
    const emailPage = await browser.follow(`${sesame.config.endpoint}/account`);
    expect(emailPage.body).toContain('name="email"');
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    const next = await browser.submit(codePage, '/code', { code: codeFrom(mail) });
    return { browser, next };
  }
  const csrfIn = (page: PageResponse) => /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;

  it('optional: a person turns it on, makes new backup codes and turns it off on their account page', async () => {
    await policy('optional');
    const email = uniqueEmail();
    const { browser, next } = await accountSignIn(email);
    expect(next.url).toBe(`${sesame.config.endpoint}/account`);
    expect(next.body).toContain('Two-step verification');
    const section = await browser.follow(`${sesame.config.endpoint}/account/mfa`);
    expect(section.status).toBe(200);
    expect(section.body).toContain('Set up an authenticator app');
    const setup = await browser.follow(`${sesame.config.endpoint}/account/mfa/setup`);
    expect(setup.body).toContain('<svg');
    expect(setup.body).toContain('autocomplete="one-time-code"');
    const secret = secretOf(setup);
    expect((await browser.submit(setup, '/account/mfa/setup', { code: '000' })).status).toBe(400);
    const shown = await browser.submit(setup, '/account/mfa/setup', { code: totp(secret) });
    expect(shown.status).toBe(200);
    const codes = codesOf(shown);
    expect(codes).toHaveLength(10);

    // The app's sign-in now asks for the code.
    nextStep();
    const step = await mfaStep(email);
    expect((await step.browser.submit(step.next, '/mfa', { method: 'backup', code: codes[0]! }, REDIRECT)).location).toContain(REDIRECT);

    const status = await browser.follow(`${sesame.config.endpoint}/account/mfa`);
    expect(status.body).toContain('9 of 10 left');
    // New backup codes need a current code from the app; the old ones stop working.
    const refused = await browser.submit(status, '/account/mfa/backup-codes', { code: '123' });
    expect(refused.status).toBe(400);
    nextStep();
    const renewed = await browser.submit(status, '/account/mfa/backup-codes', { code: totp(secret) });
    expect(renewed.status).toBe(200);
    const newCodes = codesOf(renewed);
    expect(newCodes).toHaveLength(10);
    const stale = await mfaStep(email);
    expect((await stale.browser.submit(stale.next, '/mfa', { method: 'backup', code: codes[1]! })).status).toBe(400);
    expect((await stale.browser.submit(stale.next, '/mfa', { method: 'backup', code: newCodes[1]! }, REDIRECT)).location).toContain(REDIRECT);

    // Required: it cannot be turned off here.
    await policy('required');
    const requiredPage = await browser.follow(`${sesame.config.endpoint}/account/mfa`);
    expect(requiredPage.body).not.toContain('/account/mfa/disable');
    nextStep();
    const notOff = await browser.request(`${sesame.config.endpoint}/account/mfa/disable`, { form: { _csrf: csrfIn(requiredPage), code: totp(secret) } });
    expect(notOff.status).toBe(409);

    // Optional: turned off with a current code; the sign-in no longer asks.
    await policy('optional');
    const offPage = await browser.follow(`${sesame.config.endpoint}/account/mfa`);
    nextStep();
    const off = await browser.submit(offPage, '/account/mfa/disable', { code: totp(secret) });
    expect(off.status).toBe(200);
    expect(off.body).toContain('Two-step verification is off');
    const plain = await firstFactor(email);
    expect(plain.next.location).toContain(REDIRECT);
    const user = (await findUserByEmail(sesame.db, email))!;
    const audit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Account.Mfa.*', page: 1, pageSize: 10 });
    expect(audit.rows.map((row) => row.type).sort()).toEqual(['Account.Mfa.BackupCode.Create', 'Account.Mfa.Delete', 'Account.Mfa.Totp.Create']);
  });

  it('the account page itself asks for the second factor at sign-in', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    nextStep();
    const { browser, next } = await accountSignIn(email);
    expect(next.url).toMatch(/\/mfa$/);
    const inside = await browser.submit(next, '/mfa', { method: 'totp', code: totp(secret) });
    expect(inside.url).toBe(`${sesame.config.endpoint}/account`);
  });

  it('an attacker with the mailbox but not the authenticator never reaches the app, and their wrong codes lock them out', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    const user = (await findUserByEmail(sesame.db, email))!;
    // The attacker reads the code mail (they hold the mailbox) and passes the first factor.
    const { browser: attacker, next } = await mfaStep(email);
    const statuses: number[] = [];
    let page = next;
    const wrongCode = () => {
      const right = new Set([-1, 0, 1].map((d) => totp(secret, serverNow() + d * STEP_MS)));
      for (let n = 0; ; n += 1) {
        const guess = String(100000 + n * 7919).slice(0, 6);
        if (!right.has(guess)) return guess;
      }
    };
    const before = (await countFailures(sesame.db, { email }, 0)).count;
    for (let guess = 0; guess < 10; guess += 1) {
      page = await attacker.submit(page, '/mfa', { method: guess % 2 ? 'backup' : 'totp', code: guess % 2 ? 'aaaaa-bbbbb' : wrongCode() });
      statuses.push(page.status);
      expect(page.location ?? '').not.toContain(REDIRECT);
    }
    // Wrong TOTP and backup codes count with the email codes and passwords: the 10th pauses this IP.
    expect(statuses.slice(0, 9).every((status) => status === 400)).toBe(true);
    expect(statuses[9]).toBe(429);
    expect(page.body).toContain('paused');
    expect((await countFailures(sesame.db, { email }, 0)).count - before).toBe(10);
    // Even the right code is not checked now.
    const locked = await attacker.submit(page, '/mfa', { method: 'totp', code: totp(secret) });
    expect(locked.status).toBe(429);
    const audit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Interaction.Lockout', page: 1, pageSize: 5 });
    expect(audit.rows[0]?.data).toMatchObject({ method: expect.stringMatching(/Totp|BackupCode/) });
    // The owner, from a browser where they signed in before, is not kept out by the address-wide count.
    expect(next.status).toBe(200);
  });

  it('records a sign-in (its audit record, the last sign-in) only once the second factor passes, whatever the first', async () => {
    const email = uniqueEmail();
    await policy('required');
    // Sign-up: the account exists for the set-up, but nobody has signed in to it yet.
    const signUp = await firstFactor(email);
    expect(signUp.next.url).toMatch(/\/mfa\/setup$/);
    const user = (await findUserByEmail(sesame.db, email))!;
    expect(user.lastSignInAt).toBeNull();
    const lastSignIn = async () => (await findUserByEmail(sesame.db, email))!.lastSignInAt;
    /** The account's sign-in and sign-up records, newest first. */
    const signIns = async () =>
      (await listAuditLogs(sesame.db, { userId: user.id, page: 1, pageSize: 100 })).rows.filter((row) => ['Interaction.SignIn.Submit', 'Interaction.Register.Submit'].includes(row.type));
    expect(await signIns()).toEqual([]);
    const secret = secretOf(signUp.next);
    const codesPage = await signUp.browser.submit(signUp.next, '/mfa/setup', { code: totp(secret) });
    expect((await signUp.browser.submit(codesPage, '/mfa/setup/done', {}, REDIRECT)).location).toContain(REDIRECT);
    expect(await signIns()).toMatchObject([{ type: 'Interaction.Register.Submit', result: 'success', data: { email, method: 'VerificationCode', passwordSet: false } }]);
    const signedUpAt = (await lastSignIn())!;
    expect(signedUpAt).toBeGreaterThan(0);

    // The emailed code alone (someone who holds the mailbox) is no sign-in; the second factor completes it.
    nextStep();
    const step = await mfaStep(email);
    expect(await signIns()).toHaveLength(1);
    expect(await lastSignIn()).toBe(signedUpAt);
    expect((await step.browser.submit(step.next, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT)).location).toContain(REDIRECT);
    const afterCode = await signIns();
    expect(afterCode).toHaveLength(2);
    expect(afterCode[0]).toMatchObject({ type: 'Interaction.SignIn.Submit', result: 'success', ip: expect.stringMatching(/^198\.51\.100\./), data: { email, method: 'VerificationCode' } });
    const codeSignInAt = (await lastSignIn())!;
    expect(codeSignInAt).toBeGreaterThan(signedUpAt);

    // The same with a password as the first factor.
    await setPasswordHash(sesame.db, user.id, await createPasswordHasher().hash('correct horse battery 9'), serverNow());
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'] }, Date.now());
    try {
      nextStep();
      const browser = newBrowser();
      const start = await startAuthorization(config, REDIRECT);
      const uid = uidOf(await browser.follow(start.url));
      const passwordPage = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
      const next = await browser.submit(passwordPage, '/password', { email, password: 'correct horse battery 9' });
      expect(next.url).toMatch(/\/mfa$/);
      expect(await signIns()).toHaveLength(2);
      expect(await lastSignIn()).toBe(codeSignInAt);
      expect((await browser.submit(next, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT)).location).toContain(REDIRECT);
      const afterPassword = await signIns();
      expect(afterPassword).toHaveLength(3);
      expect(afterPassword[0]).toMatchObject({ type: 'Interaction.SignIn.Submit', data: { email, method: 'Password' } });
      expect(await lastSignIn()).toBeGreaterThan(codeSignInAt);
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'] }, Date.now());
    }
  });

  it('the first factor alone does not clear the lockout: only the second factor passing does', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    const ip = '192.0.2.77';
    const { browser, next } = await mfaStep(email, new HttpBrowser({ 'x-forwarded-for': ip }));
    const pairFailures = async () => (await countFailures(sesame.db, { email, ip }, 0)).count;
    for (let i = 0; i < 3; i += 1) expect((await browser.submit(next, '/mfa', { method: 'backup', code: 'zzzzz-zzzzz' })).status).toBe(400);
    expect(await pairFailures()).toBe(3);
    // The email code again from the same browser (a new sign-in): the failures stay counted.
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    const again = await browser.submit(codePage, '/code', { code: codeFrom(await sesame.smtp.waitForMail(email, { after: before })) });
    expect(again.url).toMatch(/\/mfa$/);
    expect(await pairFailures()).toBe(3);
    nextStep();
    expect((await browser.submit(again, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT)).location).toContain(REDIRECT);
    expect(await pairFailures()).toBe(0);
  });

  it('email recovery resets a password, never the second factor: after it the step is still asked', async () => {
    const email = uniqueEmail();
    await enrol(email);
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'] }, Date.now());
    try {
      const browser = newBrowser();
      const start = await startAuthorization(config, REDIRECT);
      const uid = uidOf(await browser.follow(start.url));
      const forgot = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
      const before = sesame.smtp.countFor(email);
      const codePage = await browser.submit(forgot, '/forgot', { email });
      const newPassword = await browser.submit(codePage, '/forgot/code', { code: codeFrom(await sesame.smtp.waitForMail(email, { after: before })) });
      expect(newPassword.body).toContain('Choose a new password');
      const after = await browser.submit(newPassword, '/reset-password', { password: 'a brand new passphrase 7' }, REDIRECT);
      expect(after.location ?? '').not.toContain(REDIRECT);
      expect(after.url).toMatch(/\/mfa$/);
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'] }, Date.now());
    }
  });

  it('the step cannot be skipped by going back to the app or the authorization endpoint', async () => {
    const email = uniqueEmail();
    await enrol(email);
    nextStep();
    const { browser, uid } = await mfaStep(email);
    // The interaction page itself sends the person back to the step, not to the start.
    const back = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}`);
    expect(back.url).toMatch(/\/mfa$/);
    // Back to where oidc-provider resumes this interaction: it still needs a sign-in.
    const resumed = await browser.follow(`${sesame.issuer}/auth/${uid}`, {}, REDIRECT);
    expect(resumed.location ?? '').not.toContain(REDIRECT);
    // A new authorization request from the same browser: no session, so the sign-in starts over.
    const fresh: AuthorizationStart = await startAuthorization(config, REDIRECT);
    const restarted = await browser.follow(fresh.url, {}, REDIRECT);
    expect(restarted.location ?? '').not.toContain(REDIRECT);
    expect(restarted.body).toContain('name="email"');
  });

  it('the step cannot be replayed on another interaction, or finished from another browser', async () => {
    const email = uniqueEmail();
    const { secret } = await enrol(email);
    nextStep();
    const victim = await mfaStep(email);
    // Another browser with an interaction of its own (no first factor passed) posts a right code there.
    const other = newBrowser();
    const start = await startAuthorization(config, REDIRECT);
    const otherPage = await other.follow(start.url);
    const otherUid = uidOf(otherPage);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(otherPage.body)![1]!;
    const onOther = await other.request(`${sesame.config.endpoint}/interaction/${otherUid}/mfa`, { form: { _csrf: csrf, method: 'totp', code: totp(secret) } });
    expect(onOther.status).toBe(303);
    expect(onOther.location).toBe(`${sesame.config.endpoint}/interaction/${otherUid}`);
    // The same browser posting to the victim's interaction: not its interaction cookie.
    const onVictim = await other.request(`${sesame.config.endpoint}/interaction/${victim.uid}/mfa`, { form: { _csrf: csrf, method: 'totp', code: totp(secret) } });
    expect(onVictim.location ?? '').not.toContain(REDIRECT);
    expect([400, 403]).toContain(onVictim.status);
    // The victim's own step still works with that (unused) code.
    const done = await victim.browser.submit(victim.next, '/mfa', { method: 'totp', code: totp(secret) }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
  });

  it('an administrator resets the second factor through the API and the CLI, audit-logged', async () => {
    const email = uniqueEmail();
    await enrol(email);
    const user = (await findUserByEmail(sesame.db, email))!;
    const admin = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, admin.id, true, CLI);
    const issued = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: admin.id, client_secret: admin.secret, resource: `${sesame.config.endpoint}/api`, scope: 'all' }),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const api = async (method: string, path: string) => {
      const response = await fetch(`${sesame.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    };

    // The policy in Logto's shape.
    await policy('required');
    expect((await api('GET', '/api/sign-in-exp')).json.mfa).toEqual({ factors: ['Totp', 'BackupCode'], policy: 'Mandatory' });
    const patch = async (body: unknown) => {
      const response = await fetch(`${sesame.url}/api/sign-in-exp`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, json: (await response.json()) as any };
    };
    expect((await patch({ mfa: { factors: ['Totp', 'BackupCode'], policy: 'UserControlled' } })).json.mfa).toEqual({ factors: ['Totp', 'BackupCode'], policy: 'UserControlled' });
    expect((await patch({ mfa: { factors: [], policy: 'UserControlled' } })).json.mfa).toEqual({ factors: [], policy: 'UserControlled' });
    const refused = await patch({ mfa: { factors: ['WebAuthn'], policy: 'Mandatory' } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toContain('mfa.factors');
    expect((await patch({ mfa: { factors: ['Totp'], policy: 'PromptOnlyAtSignIn' } })).status).toBe(400);

    const listed = await api('GET', `/api/users/${user.id}/mfa-verifications`);
    expect(listed.status).toBe(200);
    expect(listed.json.map((entry: { type: string }) => entry.type).sort()).toEqual(['BackupCode', 'Totp']);
    expect(listed.json.find((entry: { type: string }) => entry.type === 'BackupCode').remainCodes).toBe(10);
    expect(JSON.stringify(listed.json)).not.toMatch(/secret/i);
    expect((await api('GET', '/api/users/nobody/mfa-verifications')).status).toBe(404);
    expect((await api('DELETE', `/api/users/${user.id}/mfa-verifications/nothing`)).status).toBe(404);

    // A passkey is listed as WebAuthn and removed the way passkeys are (its own audit type).
    const at = Date.now();
    await insertPasskey(sesame.db, { id: 'pk-mfa-test', userId: user.id, credentialId: 'Y3JlZC1tZmE', publicKey: 'cHVi', counter: 0, transports: [], deviceType: 'singleDevice', backedUp: false, name: 'YubiKey', createdAt: at, lastUsedAt: null });
    const withPasskey = await api('GET', `/api/users/${user.id}/mfa-verifications`);
    expect(withPasskey.json.find((entry: { type: string }) => entry.type === 'WebAuthn')).toMatchObject({ id: 'pk-mfa-test', name: 'YubiKey', lastUsedAt: null });
    expect((await api('DELETE', `/api/users/${user.id}/mfa-verifications/pk-mfa-test`)).status).toBe(204);
    const passkeyAudit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Management.User.Passkey.Delete', page: 1, pageSize: 5 });
    expect(passkeyAudit.rows).toHaveLength(1);

    const totpId = listed.json.find((entry: { type: string }) => entry.type === 'Totp').id;
    expect((await api('DELETE', `/api/users/${user.id}/mfa-verifications/${totpId}`)).status).toBe(204);
    expect((await api('GET', `/api/users/${user.id}/mfa-verifications`)).json).toEqual([]);
    const apiAudit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Management.User.MfaVerification.Delete', page: 1, pageSize: 5 });
    expect(apiAudit.rows[0]).toMatchObject({ actor: `app:${admin.id}`, data: { type: 'Totp', verificationId: totpId } });

    // Required policy: the next sign-in sets up a new authenticator (never by email alone).
    await policy('required');
    const after = await firstFactor(email);
    expect(after.next.url).toMatch(/\/mfa\/setup$/);

    // The CLI reset, once the account has enrolled again.
    await enrol(email);
    const cli = await sesameCli(['user', 'reset-mfa', email], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('Removed the authenticator app and backup codes');
    expect((await api('GET', `/api/users/${user.id}/mfa-verifications`)).json).toEqual([]);
    const cliAudit = await listAuditLogs(sesame.db, { userId: user.id, type: 'Management.User.MfaVerification.Reset', page: 1, pageSize: 5 });
    expect(cliAudit.rows[0]).toMatchObject({ actor: 'cli', data: { removed: true } });
    const unknown = await sesameCli(['user', 'reset-mfa', 'nobody@example.com'], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(unknown.code).not.toBe(0);
  });

  it('the policy is set with the CLI (the Logto-shaped API is checked with the admin reset)', async () => {
    await policy('off');
    const cli = await sesameCli(['experience', 'set', '--mfa-policy', 'required'], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).mfa).toEqual({ policy: 'required' });
    const bad = await sesameCli(['experience', 'set', '--mfa-policy', 'sometimes'], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--mfa-policy must be one of off, optional, required');
    await policy('off');
  });
});
