import type { Page } from 'playwright-core';
import type * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, horizontalOverflow, mailCount, readCodeFromMailbox, screenshot, startE2eStack, type DemoE2e, type PageProblem } from '../helpers/e2e.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';

/**
 * The sign-in flow in Arabic (right to left) and Japanese, asked for with ui_locales, in Chromium at
 * 375 px: every page in the language, `<html lang dir>` right, nothing sticking out sideways, the
 * switcher working; screenshots of each step in test-artifacts/e2e/.
 */
explainChromiumSkip();

// Never contacted: the test answers it (Chromium refuses some ports, such as 9, before any route runs).
const REDIRECT = 'http://127.0.0.1:8989/callback';

let e2e: DemoE2e<'phone'>;
let config: client.Configuration;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'demo', browsers: { phone: { viewport: { width: 375, height: 740 } } } });
  const app = await e2e.sesame.registerApp({ name: 'Bookstore', redirectUris: [REDIRECT] });
  config = await discover(e2e.sesame.issuer, app);
  // The app's redirect URI answers in the test itself: the sign-in ends there.
  await e2e.browsers.phone.context.route(`${REDIRECT}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><h1>back in the app</h1>' }));
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();

async function expectPage(page: Page, lang: string, dir: 'ltr' | 'rtl', shot: string) {
  expect(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).toEqual([lang, dir]);
  const { scrollWidth } = await horizontalOverflow(page);
  expect(scrollWidth, `${shot} is wider than the screen`).toBeLessThanOrEqual(375);
  await screenshot(page, shot);
}

interface Words {
  lang: string;
  dir: 'ltr' | 'rtl';
  signIn: string;
  checkEmail: string;
  wrong: string;
  triesLeft: string;
  expired: string;
}

const ARABIC: Words = {
  lang: 'ar',
  dir: 'rtl',
  signIn: 'تسجيل الدخول',
  checkEmail: 'تحقق من بريدك الإلكتروني',
  wrong: 'هذا الرمز غير صحيح.',
  triesLeft: 'تبقّت 4 محاولات.',
  expired: 'انتهت صلاحية عملية تسجيل الدخول هذه',
};

const JAPANESE: Words = {
  lang: 'ja',
  dir: 'ltr',
  signIn: 'サインイン',
  checkEmail: 'メールをご確認ください',
  wrong: 'コードが正しくありません。',
  triesLeft: '残り 4 回です。',
  expired: 'このサインインは有効期限が切れました',
};

/** Signs in through the code pages, which are in `words`' language; the page is left on the app's callback. */
async function signInFlow(page: Page, words: Words, email: string, prefix = `lang-${words.lang}`) {
  await expect.poll(() => heading(page).textContent()).toBe(words.signIn);
  await expectPage(page, words.lang, words.dir, `${prefix}-01-email`);

  // The address field's label is in the language, and the field works through it.
  await page.locator('#email').fill(email);
  const before = await mailCount(e2e.browsers.phone.context, e2e.mailboxUrl, email);
  await page.locator('form.form button[type="submit"]').click();
  await expect.poll(() => heading(page).textContent()).toBe(words.checkEmail);
  await expectPage(page, words.lang, words.dir, `${prefix}-02-code`);

  const { code } = await readCodeFromMailbox(e2e.browsers.phone.context, e2e.mailboxUrl, email, before, `${prefix}-03-mailbox`);
  const wrong = code === '000000' ? '111111' : '000000';
  await page.locator('#code').fill(wrong);
  await page.locator('form.form button[type="submit"]').click();
  await expect.poll(() => page.getByRole('alert').textContent()).toContain(words.wrong);
  expect(await page.getByRole('alert').textContent()).toContain(words.triesLeft);
  await expectPage(page, words.lang, words.dir, `${prefix}-04-code-wrong`);

  await page.locator('#code').fill(code);
  await page.locator('form.form button[type="submit"]').click();
  await page.waitForURL((url) => url.href.startsWith(REDIRECT));
  expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
}

/** A fresh browser session (no Sesame session, no language cookie) on the app's sign-in with `ui_locales`. */
async function startSignIn(uiLocales: string): Promise<Page> {
  await e2e.browsers.phone.context.clearCookies();
  const page = await e2e.browsers.phone.context.newPage();
  await page.goto((await startAuthorization(config, REDIRECT, { ui_locales: uiLocales })).url);
  return page;
}

describe.skipIf(CHROMIUM_MISSING)('the sign-in flow in other languages (chromium, 375 px)', () => {
  it('walks the sign-in in Arabic, right to left', async () => {
    const page = await startSignIn('ar');
    await signInFlow(page, ARABIC, 'arabic.reader@bookstore.example');
    await page.close();
  });

  it('walks the sign-in in Japanese', async () => {
    const page = await startSignIn('ja');
    await signInFlow(page, JAPANESE, 'japanese.reader@bookstore.example');
    await page.close();
  });

  it('switches language with the switcher, which then wins over ui_locales, and signs out in that language', async () => {
    const page = await startSignIn('ja');
    await expect.poll(() => heading(page).textContent()).toBe(JAPANESE.signIn);
    const before = page.url();
    await page.getByRole('link', { name: 'العربية' }).click();
    await page.waitForURL(before);
    await expect.poll(() => heading(page).textContent()).toBe(ARABIC.signIn);
    await expectPage(page, 'ar', 'rtl', 'lang-05-switched-to-arabic');
    await signInFlow(page, ARABIC, 'switcher.reader@bookstore.example', 'lang-05-switched');

    // Pages oidc-provider answers with follow the same choice (the cookie): the sign-out question.
    await page.goto(`${e2e.sesame.issuer}/session/end`);
    await expect.poll(() => heading(page).textContent()).toBe('تسجيل الخروج؟');
    await expectPage(page, 'ar', 'rtl', 'lang-06-sign-out-arabic');
    await page.getByRole('button', { name: 'تسجيل الخروج', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('تم تسجيل خروجك');
    await expectPage(page, 'ar', 'rtl', 'lang-07-signed-out-arabic');

    // An expired sign-in, in the chosen language.
    await page.goto(`${e2e.endpoint}/interaction/no-such-sign-in`);
    await expect.poll(() => heading(page).textContent()).toBe(ARABIC.expired);
    await expectPage(page, 'ar', 'rtl', 'lang-08-expired-arabic');
    await page.close();

    // The wrong-code pages answer 400 and the expired sign-in 400 on purpose; nothing else may fail.
    const intended = (problem: PageProblem) =>
      /40[04] (POST|GET) .*\/(code|no-such-sign-in.*)$/.test(problem.text) ||
      (problem.kind === 'console-error' && /status of 40[04]/.test(problem.text)) ||
      problem.text.includes('favicon');
    expect(e2e.browsers.phone.problems.filter((problem) => !problem.url.startsWith(e2e.mailboxUrl) && !intended(problem))).toEqual([]);
  });
});
