import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom, type CaughtMail } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { sesameCli } from '../helpers/cli.ts';
import { discover, exchange, startAuthorization } from '../helpers/oidc.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { saveExperience, type ExperienceChanges } from '../../src/sign-in/experience.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const MINUTE = 60_000;

/** The sign-in link in a code's mail (text part), or undefined when the mail has none. */
function linkIn(mail: CaughtMail): string | undefined {
  return /(https?:\/\/\S+\/link\?t=[A-Za-z0-9_-]{43})/.exec(mail.text)?.[1];
}

/** The same link with another valid-looking token: what a guess or a mangled copy looks like. */
function otherToken(link: string): string {
  const url = new URL(link);
  const token = url.searchParams.get('t')!;
  url.searchParams.set('t', `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`);
  return url.toString();
}

describe('the sign-in link in the code email', () => {
  let sesame: TestSesameWithMail;
  let config: client.Configuration;
  let offset = 0;
  let counter = 0;
  let logs = '';

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    sesame = await startSesameWithMail({
      env: { TRUST_PROXY: '127.0.0.1' },
      sesame: { now: () => Date.now() + offset, logger: { level: 'trace', stream } },
    });
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(() => sesame?.stop());

  const uniqueEmail = () => `link${++counter}.${Date.now()}@example.com`;

  async function experience(changes: ExperienceChanges) {
    await saveExperience(sesame.db, changes, Date.now());
  }

  /** Starts a sign-in in `browser` and asks for a code: the code page, the mail, its code and its link. */
  async function requestCode(email: string, browser = new HttpBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.status).toBe(200);
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    const link = linkIn(mail);
    expect(link, mail.text).toBeTruthy();
    const uid = /\/interaction\/([^/]+)\//.exec(codePage.url)![1]!;
    return { browser, start, codePage, mail, code: codeFrom(mail), link: link!, uid };
  }

  /** Starts a sign-in and asks for a password-recovery code (the experience must offer passwords). */
  async function requestRecovery(email: string, browser = new HttpBrowser()) {
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    const uid = /\/interaction\/([^/"?]+)/.exec(emailPage.url)![1]!;
    const forgot = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
    expect(forgot.body).toContain('Reset your password');
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(forgot, '/forgot', { email });
    expect(codePage.status).toBe(200);
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    return { browser, start, codePage, mail, code: codeFrom(mail), link: linkIn(mail)!, uid };
  }

  async function account(email: string) {
    const { browser, start, codePage, code } = await requestCode(email);
    const done = await browser.submit(codePage, '/code', { code }, REDIRECT);
    expect(done.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback/);
    await exchange(config, done.location!, start);
  }

  const row = (uid: string, purpose = 'email') =>
    sesame.db.selectFrom('verification_codes').selectAll().where('interaction_uid', '=', uid).where('purpose', '=', purpose).executeTakeFirstOrThrow();

  it('puts the code and the link in the text and HTML mail, at ENDPOINT under the interaction', async () => {
    const { mail, link, code, uid } = await requestCode(uniqueEmail());
    expect(link.startsWith(`${sesame.config.endpoint}/interaction/${uid}/link?t=`)).toBe(true);
    expect(link).not.toContain(code);
    expect(mail.text).toContain('using either one uses both');
    // HTML: a button and the address as text.
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.html).toContain(`>${link}</a>`);
    // A new address: the Register mail, whose button says what the link does.
    expect(mail.html).toMatch(/>Confirm my email<\/a>/);
  });

  it('completes the sign-in when opened in the same browser, and the code dies with it', async () => {
    const email = uniqueEmail();
    const { browser, start, link, uid } = await requestCode(email);
    const done = await browser.follow(link, {}, REDIRECT);
    expect(done.location?.startsWith(REDIRECT), done.body.slice(0, 300)).toBe(true);
    const tokens = await exchange(config, done.location!, start);
    expect(tokens.claims()!.email).toBe(email);
    expect((await row(uid)).consumed_at).not.toBeNull();

    // The audit log says it came from the link, and never holds the token or its HMAC.
    const rows = await sesame.db.selectFrom('audit_logs').selectAll().execute();
    const audit = JSON.stringify(rows);
    const signUp = rows.find((r) => String(r.data).includes(email) && String(r.data).includes('"method":"VerificationCode"'));
    expect(String(signUp?.data)).toContain('"via":"link"');
    const token = new URL(link).searchParams.get('t')!;
    expect(audit).not.toContain(token);
    expect(audit).not.toContain((await row(uid)).link_hmac!);

    // Reused: the same browser (interaction over) and another get "already used", nothing more.
    const again = await browser.follow(link);
    expect(again.status).toBe(410);
    expect(again.body).toContain('This link was already used');
    const elsewhere = await new HttpBrowser().request(link);
    expect(elsewhere.status).toBe(410);
  });

  it('shows the code in another browser, spending nothing; the code then works where the sign-in started', async () => {
    const email = uniqueEmail();
    const { browser, start, codePage, code, link, uid } = await requestCode(email);

    // A link scanner: several GETs without the person's cookies, and a guessed token.
    for (let i = 0; i < 3; i += 1) {
      const scanned = await fetch(link, { redirect: 'manual' });
      expect(scanned.status).toBe(200);
      expect(scanned.headers.get('cache-control')).toBe('no-store');
      expect(scanned.headers.get('content-security-policy')).toContain("script-src 'self'");
    }
    const guessed = await new HttpBrowser().request(otherToken(link));
    expect(guessed.status).toBe(400);
    expect(guessed.body).toContain('This link does not work');
    const stored = await row(uid);
    expect(stored.consumed_at).toBeNull();
    expect(stored.failed_attempts).toBe(0);

    const other = await new HttpBrowser().request(link);
    expect(other.status).toBe(200);
    expect(other.body).toContain('Finish in your other browser');
    expect(other.body).toContain(`data-testid="link-code">${code}<`);
    expect(other.body).not.toContain('<form');

    const done = await browser.submit(codePage, '/code', { code }, REDIRECT);
    expect(done.location?.startsWith(REDIRECT)).toBe(true);
    expect((await exchange(config, done.location!, start)).claims()!.email).toBe(email);
    // And now the other browser learns it was used.
    expect((await new HttpBrowser().request(link)).status).toBe(410);
  });

  it('counts a wrong token in the same browser as a wrong code: five of them kill the code', async () => {
    const email = uniqueEmail();
    const { browser, codePage, code, link, uid } = await requestCode(email);
    const wrong = otherToken(link);
    let page: PageResponse | undefined;
    for (const left of [4, 3, 2, 1]) {
      page = await browser.follow(wrong);
      expect(page.status).toBe(400);
      expect(page.body).toContain('That sign-in link does not match your latest code');
      expect(page.body).toContain(left === 1 ? '1 try left' : `${left} tries left`);
    }
    expect((await row(uid)).failed_attempts).toBe(4);
    page = await browser.follow(wrong);
    expect(page.body).toContain('Too many wrong tries');
    // Dead for both forms: the right link and the right code are refused.
    const right = await browser.follow(link);
    expect(right.status).toBe(400);
    expect(right.body).toContain('can no longer be used');
    const typed = await browser.submit(codePage, '/code', { code });
    expect(typed.status).toBe(400);
    expect((await row(uid)).consumed_at).toBeNull();
    // Elsewhere the dead link says so, and shows no code.
    const elsewhere = await new HttpBrowser().request(link);
    expect(elsewhere.status).toBe(410);
    expect(elsewhere.body).toContain('This link no longer works');
    expect(elsewhere.body).not.toContain(code);

    const refusals = await sesame.db.selectFrom('audit_logs').selectAll().where('result', '=', 'failure').execute();
    const fromLink = refusals.filter((r) => String(r.data).includes('"via":"link"') && String(r.data).includes(email));
    expect(fromLink.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses the link once the code was typed, in every browser', async () => {
    await experience({ passwordAtSignUp: 'required' });
    try {
      const email = uniqueEmail();
      const { browser, codePage, code, link } = await requestCode(email);
      // A new address with a password required: the code leads to the password step, the interaction stays.
      const next = await browser.submit(codePage, '/code', { code });
      expect(next.body).toContain('Create a password');
      const same = await browser.follow(link);
      expect(same.status).toBe(410);
      expect(same.body).toContain('This link was already used');
      expect((await new HttpBrowser().request(link)).status).toBe(410);
    } finally {
      await experience({ passwordAtSignUp: 'off' });
    }
  });

  it('leads a new address to the password step when the experience asks for one', async () => {
    await experience({ passwordAtSignUp: 'required' });
    try {
      const { browser, codePage, code, link } = await requestCode(uniqueEmail());
      const next = await browser.follow(link);
      expect(next.status).toBe(200);
      expect(next.body).toContain('Create a password');
      // The link spent the code: typing it now starts over.
      const typed = await browser.submit(codePage, '/code', { code });
      expect(typed.body).not.toContain('Create a password');
    } finally {
      await experience({ passwordAtSignUp: 'off' });
    }
  });

  it('refuses an expired link in the same browser and elsewhere', async () => {
    const { browser, code, link } = await requestCode(uniqueEmail());
    offset += 11 * MINUTE;
    try {
      const same = await browser.follow(link);
      expect(same.status).toBe(400);
      expect(same.body).toContain('expired');
      const elsewhere = await new HttpBrowser().request(link);
      expect(elsewhere.status).toBe(410);
      expect(elsewhere.body).toContain('This link has expired');
      expect(elsewhere.body).not.toContain(code);
    } finally {
      offset -= 11 * MINUTE;
    }
  });

  it('only works from the newest mail: a resend replaces the link with the code', async () => {
    const email = uniqueEmail();
    const { browser, codePage, link: first, uid } = await requestCode(email);
    offset += 61_000;
    try {
      const before = sesame.smtp.countFor(email);
      await browser.submit(codePage, '/resend');
      const second = linkIn(await sesame.smtp.waitForMail(email, { after: before }))!;
      expect(second).not.toBe(first);
      expect((await new HttpBrowser().request(first)).status).toBe(400);
      const done = await browser.follow(second, {}, REDIRECT);
      expect(done.location?.startsWith(REDIRECT)).toBe(true);
      expect((await row(uid)).consumed_at).not.toBeNull();
    } finally {
      offset -= 61_000;
    }
  });

  it('reaches the new-password page by a recovery link, and spends the recovery code', async () => {
    const email = uniqueEmail();
    await account(email);
    await experience({ signInMethods: ['verificationCode', 'password'] });
    try {
      const { browser, codePage, code, link, uid, mail } = await requestRecovery(email);
      expect(link.startsWith(`${sesame.config.endpoint}/interaction/${uid}/forgot/link?t=`)).toBe(true);
      expect(mail.html).toMatch(/>Reset my password<\/a>/);
      // Another browser: the code, nothing spent.
      const elsewhere = await new HttpBrowser().request(link);
      expect(elsewhere.body).toContain(`data-testid="link-code">${code}<`);
      const next = await browser.follow(link);
      expect(next.status).toBe(200);
      expect(next.body).toContain('Choose a new password');
      const typed = await browser.submit(codePage, '/code', { code });
      expect(typed.url).toMatch(/\/forgot$/);
      const done = await browser.submit(next, '/reset-password', { password: 'a brand new passphrase' }, REDIRECT);
      expect(done.location?.startsWith(REDIRECT)).toBe(true);
    } finally {
      await experience({ signInMethods: ['verificationCode'] });
    }
  });

  it('answers a malformed link with a clear page, never a 500', async () => {
    const { uid } = await requestCode(uniqueEmail());
    const endpoint = sesame.config.endpoint;
    for (const path of [`/interaction/${uid}/link`, `/interaction/${uid}/link?t=short`, `/interaction/${uid}/link?t=${'!'.repeat(43)}`, `/interaction/${uid}/link?t=a&t=b`, `/interaction/no%20such/link?t=${'A'.repeat(43)}`, `/interaction/x/link?t=${'A'.repeat(500)}`]) {
      const page = await new HttpBrowser().request(`${endpoint}${path}`);
      expect(page.status, path).toBe(400);
      expect(page.body, path).toContain('This link does not work');
      expect(page.headers.get('content-type')).toContain('text/html');
    }
  });

  it('sends no link and refuses old links while the setting is off', async () => {
    const { link } = await requestCode(uniqueEmail());
    await experience({ verificationCode: { link: false } });
    try {
      const off = await new HttpBrowser().request(link);
      expect(off.status).toBe(404);
      expect(off.body).toContain('Sign-in links are turned off');
      const email = uniqueEmail();
      const start = await startAuthorization(config, REDIRECT);
      const browser = new HttpBrowser();
      const emailPage = await browser.follow(start.url);
      const before = sesame.smtp.countFor(email);
      await browser.submit(emailPage, '/email', { email });
      const mail = await sesame.smtp.waitForMail(email, { after: before });
      expect(linkIn(mail)).toBeUndefined();
      expect(mail.text).not.toContain('/link');
      expect(mail.html).not.toContain('/link');
      expect(mail.text).toContain('This code expires in');
    } finally {
      await experience({ verificationCode: { link: true } });
    }
  });

  it('shows and changes the setting through the management API and the CLI', async () => {
    const admin = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, admin.id, true, CLI);
    const issued = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: admin.id, client_secret: admin.secret, resource: `${sesame.config.endpoint}/api`, scope: 'all' }),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const api = async (method: string, body?: unknown) => {
      const response = await fetch(`${sesame.url}/api/sign-in-exp`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as any };
    };
    expect((await api('GET')).json.verificationCodePolicy).toMatchObject({ link: true, expirationDuration: 600 });
    const off = await api('PATCH', { verificationCodePolicy: { link: false } });
    expect(off.status).toBe(200);
    expect(off.json.verificationCodePolicy).toMatchObject({ link: false, expirationDuration: 600, maxRetryAttempts: 5 });
    const bad = await api('PATCH', { verificationCodePolicy: { link: 'yes' } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('verificationCodePolicy.link');

    const cli = (...args: string[]) => sesameCli(['experience', ...args], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(JSON.parse((await cli('show')).stdout).verificationCode).toMatchObject({ link: false });
    const on = await cli('set', '--code-link', 'true');
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout).verificationCode).toMatchObject({ link: true });
    const wrong = await cli('set', '--code-link', 'maybe');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--code-link');
    expect((await api('GET')).json.verificationCodePolicy.link).toBe(true);
  });

  it('never writes a link token or its HMAC to the log', async () => {
    const rows = await sesame.db.selectFrom('verification_codes').select(['link_hmac', 'link_code']).execute();
    const secrets = sesame.smtp.mails.map((mail) => linkIn(mail)).filter(Boolean).map((link) => new URL(link!).searchParams.get('t')!);
    expect(secrets.length).toBeGreaterThan(5);
    expect(logs).toContain('/link?t=[redacted]');
    for (const secret of secrets) expect(logs.includes(secret)).toBe(false);
    for (const { link_hmac, link_code } of rows) {
      if (link_hmac) expect(logs.includes(link_hmac)).toBe(false);
      if (link_code) expect(logs.includes(link_code)).toBe(false);
    }
  });
});
