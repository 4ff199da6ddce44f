import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, horizontalOverflow, mailCount, readCodeFromMailbox, screenshot, startE2eStack, type DemoE2e, type PageProblem } from '../helpers/e2e.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';

/** Passwords in a real browser: sign-up with a password, password sign-in, and recovery by code. */
explainChromiumSkip();

const SIGNED_IN = 'You are logged in';
const PASSWORD = 'velvet morning tram ticket';
const NEW_PASSWORD = 'quiet harbour lamp post';

let e2e: DemoE2e<'phone'>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'demo', browsers: { phone: { viewport: { width: 375, height: 740 } } } });
  await saveExperience(e2e.sesame.db, { signInMethods: ['verificationCode', 'password'], passwordAtSignUp: 'required' }, Date.now());
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();

async function toSesame(page: Page) {
  await page.goto(`${e2e.demoUrl}/`);
  await page.getByRole('link', { name: 'Sign In', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(e2e.endpoint));
  await page.getByLabel('Email address').waitFor();
}

async function expectFits(page: Page) {
  const { scrollWidth } = await horizontalOverflow(page);
  expect(scrollWidth).toBeLessThanOrEqual(375);
}

describe.skipIf(CHROMIUM_MISSING)('passwords in chromium (375 px wide)', () => {
  it('signs up with a password, signs in with it, and recovers it by code', async () => {
    const email = 'pat.reader@bookstore.example';
    const page = await e2e.browsers.phone.context.newPage();

    // Sign-up: code first, then "Create a password".
    await toSesame(page);
    expect(await page.getByRole('link', { name: 'Sign in with a password instead' }).count()).toBe(1);
    await page.getByLabel('Email address').fill(email);
    const before = await mailCount(e2e.browsers.phone.context, e2e.mailboxUrl, email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    const { code } = await readCodeFromMailbox(e2e.browsers.phone.context, e2e.mailboxUrl, email, before);
    await page.getByLabel('Verification code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Create a password');
    await expectFits(page);
    await screenshot(page, 'p01-create-password');
    await page.getByLabel('New password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('most common');
    await screenshot(page, 'p02-create-password-refused');
    await page.getByLabel('New password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);

    // Password sign-in.
    await toSesame(page);
    await page.getByRole('link', { name: 'Sign in with a password instead' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Enter your password');
    await expectFits(page);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password').fill('not my password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('do not match');
    await screenshot(page, 'p03-password-wrong');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);

    // Recovery: Forgot your password? -> code -> new password -> signed in.
    await toSesame(page);
    await page.getByRole('link', { name: 'Sign in with a password instead' }).click();
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Reset your password');
    await screenshot(page, 'p04-forgot');
    await page.getByLabel('Email address').fill(email);
    const sentBefore = await mailCount(e2e.browsers.phone.context, e2e.mailboxUrl, email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    const recovery = await readCodeFromMailbox(e2e.browsers.phone.context, e2e.mailboxUrl, email, sentBefore);
    await page.getByLabel('Verification code').fill(recovery.code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Choose a new password');
    await screenshot(page, 'p05-new-password');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Save and sign in' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);

    // The two refused forms answer 400 on purpose (and chromium logs that); anything else is a problem.
    const intended = (problem: PageProblem) =>
      /400 POST .*\/(create-password|password)$/.test(problem.text) ||
      (problem.kind === 'console-error' && /status of 400/.test(problem.text) && /\/(create-password|password)$/.test(problem.url));
    expect(e2e.browsers.phone.problems.filter((problem) => !problem.url.startsWith(e2e.mailboxUrl) && !intended(problem))).toEqual([]);
    expect(e2e.browsers.phone.problems.filter(intended)).toHaveLength(4);
    await page.close();
  });
});
