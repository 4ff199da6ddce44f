import type { Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM_MISSING,
  explainChromiumSkip,
  horizontalOverflow,
  mailCount,
  readCodeFromMailbox,
  screenshot,
  startE2eStack,
  type DemoE2e,
  type E2eBrowser,
  type PageProblem,
} from '../helpers/e2e.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';

/**
 * Two-step verification in a real browser, at desktop width and at 375 px: the required setup at
 * sign-in (QR code, the key as text, a code, the backup codes once), then a sign-in with a code from
 * the authenticator app, typed and sent with the keyboard only.
 */
explainChromiumSkip();

const SIGNED_IN = 'You are logged in';
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 375, height: 740 } } as const;

let e2e: DemoE2e<keyof typeof VIEWPORTS>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'demo', browsers: { desktop: { viewport: VIEWPORTS.desktop }, phone: { viewport: VIEWPORTS.phone } } });
  await saveExperience(e2e.sesame.db, { mfa: { policy: 'required' } }, Date.now());
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();
const totp = (secret: string) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() });

async function expectFits(page: Page, width: number) {
  const { scrollWidth } = await horizontalOverflow(page);
  expect(scrollWidth).toBeLessThanOrEqual(width);
}

/** From the Bookstore's Sign In to Sesame's code page, and the emailed code typed in. */
async function emailCode(page: Page, browser: E2eBrowser, email: string) {
  await page.goto(`${e2e.demoUrl}/`);
  await page.getByRole('link', { name: 'Sign In', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(e2e.endpoint));
  await page.getByLabel('Email address').fill(email);
  const before = await mailCount(browser.context, e2e.mailboxUrl, email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect.poll(() => heading(page).textContent()).toBe('Check your email');
  const { code } = await readCodeFromMailbox(browser.context, e2e.mailboxUrl, email, before);
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
}

describe.skipIf(CHROMIUM_MISSING)('two-step verification in chromium', () => {
  it('sets up an authenticator when required, then signs in with a code from it (desktop and 375 px)', async () => {
    const secrets: Partial<Record<keyof typeof VIEWPORTS, string>> = {};
    const pages: Partial<Record<keyof typeof VIEWPORTS, Page>> = {};

    for (const name of Object.keys(VIEWPORTS) as (keyof typeof VIEWPORTS)[]) {
      const browser = e2e.browsers[name];
      const width = VIEWPORTS[name].width;
      const page = await browser.context.newPage();
      pages[name] = page;
      await emailCode(page, browser, `reader.${name}@bookstore.example`);

      // The forced setup: a QR code drawn by the server, the key as text behind a disclosure.
      await expect.poll(() => heading(page).textContent()).toBe('Set up two-step verification');
      await expect.poll(() => page.locator('.mfa-qr svg').isVisible()).toBe(true);
      const qr = await page.locator('.mfa-qr').boundingBox();
      expect(qr!.width).toBeGreaterThanOrEqual(150);
      await expectFits(page, width);
      await screenshot(page, `mfa-${name}-01-setup`);
      await page.getByText('Can’t scan it? Enter this key instead').click();
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      secrets[name] = secret;
      await screenshot(page, `mfa-${name}-02-setup-key`);

      const codeField = page.getByLabel('Enter the 6-digit code the app shows');
      expect(await codeField.getAttribute('autocomplete')).toBe('one-time-code');
      expect(await codeField.getAttribute('inputmode')).toBe('numeric');
      await codeField.fill('000000');
      await page.getByRole('button', { name: 'Turn on' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('does not match');
      await screenshot(page, `mfa-${name}-03-setup-wrong`);
      await page.getByLabel('Enter the 6-digit code the app shows').fill(totp(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();

      // The backup codes, once, then on to the app.
      await expect.poll(() => heading(page).textContent()).toBe('Save your backup codes');
      expect(await page.locator('.mfa-codes li').count()).toBe(10);
      await expectFits(page, width);
      await screenshot(page, `mfa-${name}-04-backup-codes`);
      await page.getByRole('button', { name: /I saved them/ }).click();
      await page.waitForURL(`${e2e.demoUrl}/`);
      await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
      await page.getByRole('link', { name: 'Sign Out' }).click();
      await page.waitForURL(`${e2e.demoUrl}/`);
    }

    // The code used at setup stays used for its 30 s: wait for the authenticator's next code.
    await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 500));

    for (const name of Object.keys(VIEWPORTS) as (keyof typeof VIEWPORTS)[]) {
      const browser = e2e.browsers[name];
      const page = pages[name]!;
      await emailCode(page, browser, `reader.${name}@bookstore.example`);
      await expect.poll(() => heading(page).textContent()).toBe('Two-step verification');
      await expectFits(page, VIEWPORTS[name].width);
      // The code field has the focus: type and send with the keyboard alone.
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('code');
      await screenshot(page, `mfa-${name}-05-step`);
      // Switching to a backup code and back, by keyboard.
      await page.getByRole('link', { name: 'Use a backup code instead' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByLabel('Backup code').isVisible()).toBe(true);
      await screenshot(page, `mfa-${name}-06-backup-code`);
      await page.getByRole('link', { name: 'Use your authenticator app instead' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('code');
      await page.keyboard.type(totp(secrets[name]!));
      await page.keyboard.press('Enter');
      await page.waitForURL(`${e2e.demoUrl}/`);
      await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
      await screenshot(page, `mfa-${name}-07-signed-in`);

      // The account page's section (signed in through the same Sesame session: no second sign-in).
      await page.goto(`${e2e.endpoint}/account/mfa`);
      await expect.poll(() => heading(page).textContent()).toBe('Two-step verification');
      await expect.poll(() => page.getByText('10 of 10 left').count()).toBe(1);
      // Required: no way to turn it off here, only new backup codes (with a code from the app).
      expect(await page.getByRole('button', { name: 'Turn off two-step verification' }).count()).toBe(0);
      expect(await page.getByLabel('Code from your authenticator app').getAttribute('autocomplete')).toBe('one-time-code');
      await expectFits(page, VIEWPORTS[name].width);
      await screenshot(page, `mfa-${name}-08-account`);
      await page.close();
    }

    // The wrong setup code answers 400 on purpose (and chromium logs that); anything else is a problem.
    for (const { problems } of Object.values(e2e.browsers)) {
      const intended = (problem: PageProblem) =>
        /400 POST .*\/mfa\/setup$/.test(problem.text) || (problem.kind === 'console-error' && /status of 400/.test(problem.text) && /\/mfa\/setup$/.test(problem.url));
      expect(problems.filter((problem) => !problem.url.startsWith(e2e.mailboxUrl) && !intended(problem))).toEqual([]);
    }
  }, 120_000);
});
