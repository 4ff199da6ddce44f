import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, horizontalOverflow, mailCount, readCodeFromMailbox, screenshot, startE2eStack, type DemoE2e, type PageProblem } from '../helpers/e2e.ts';

/**
 * The whole product as a newcomer sees it after `npm start`: the Bookstore demo signs a person in
 * through Sesame's pages with a code read off the dev mailbox page, in a real chromium.
 */
explainChromiumSkip();

const SIGNED_OUT = 'You are not logged in to this website';
const SIGNED_IN = 'You are logged in';

let e2e: DemoE2e<'desktop' | 'phone'>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'demo', browsers: { desktop: {}, phone: { viewport: { width: 375, height: 740 }, isMobile: true } } });
});

afterAll(async () => {
  await e2e?.close();
});

function heading(page: Page) {
  return page.locator('h1').first();
}

/** Problems on the pages people sign in with: the demo and Sesame (the dev mailbox is a tool, checked apart). */
function productProblems(problems: PageProblem[]): PageProblem[] {
  return problems.filter((problem) => !problem.url.startsWith(e2e.mailboxUrl));
}

async function claim(page: Page, name: string): Promise<string> {
  const row = page.locator('tr', { has: page.locator(`th code:text-is("${name}")`) }).first();
  return ((await row.locator('td').textContent()) ?? '').trim();
}

/** From the demo's home page, through Sesame's email page, to the code page. */
async function startSignIn(page: Page, email: string, shots?: { email: string; code: string }): Promise<void> {
  await page.getByRole('link', { name: 'Sign In', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(e2e.endpoint));
  await page.getByLabel('Email address').waitFor();
  if (shots) await screenshot(page, shots.email);
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.href.startsWith(e2e.endpoint));
  await expect.poll(() => heading(page).textContent()).toBe('Check your email');
  expect(await page.locator('.subtitle .email').textContent()).toBe(email);
  if (shots) await screenshot(page, shots.code);
}

/** On the code page: type `code`, verify, and land on the demo's signed-in home page. */
async function enterCode(page: Page, code: string): Promise<void> {
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`${e2e.demoUrl}/`);
  await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
}

describe.skipIf(CHROMIUM_MISSING)('the Bookstore demo in chromium', () => {
  it('signs in with a code from the dev mailbox, stays signed in, signs out, signs in again and cancels', async () => {
    const email = 'reader@bookstore.example';
    const page = await e2e.browsers.desktop.context.newPage();
    // Every document the tab loads, to prove sign-out really went through Sesame's end_session.
    const visited: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });

    await page.goto(e2e.demoUrl);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);
    expect(await page.getByRole('link', { name: 'Open the dev mailbox' }).getAttribute('href')).toBe(e2e.mailboxUrl);
    await screenshot(page, '01-home-signed-out');

    await startSignIn(page, email, { email: '02-email-page', code: '03-code-page' });

    // Right after sending, resend waits out the server's cooldown, and the countdown moves.
    const resend = page.locator('form.resend button');
    expect(await resend.isDisabled()).toBe(true);
    expect((await resend.textContent())?.trim()).toMatch(/^Resend code in \d+ s$/);
    const before = Number(await resend.locator('[data-countdown-value]').textContent());
    expect(before).toBeGreaterThan(50);
    expect(before).toBeLessThanOrEqual(60);
    await expect.poll(async () => Number(await resend.locator('[data-countdown-value]').textContent()), { timeout: 5_000 }).toBeLessThan(before);
    expect(await resend.isDisabled()).toBe(true);

    const first = await readCodeFromMailbox(e2e.browsers.desktop.context, e2e.mailboxUrl, email, 0, '04-dev-mailbox');
    await enterCode(page, first.code);
    expect(await page.locator('.email').first().textContent()).toBe(email);
    expect(await claim(page, 'email')).toBe(email);
    const sub = await claim(page, 'sub');
    expect(sub).not.toBe('');
    await screenshot(page, '05-signed-in');

    await page.reload();
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_IN);
    expect(await page.locator('.email').first().textContent()).toBe(email);
    await screenshot(page, '06-signed-in-after-reload');

    visited.length = 0;
    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);
    expect(visited.some((url) => url.startsWith(`${e2e.endpoint}/oidc/session/end`))).toBe(true);
    await screenshot(page, '07-signed-out');
    await page.reload();
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);

    // Sesame's session ended too, so signing in again asks for the email; the account is the same.
    await startSignIn(page, email, { email: '08-email-page-again', code: '09-code-page-again' });
    const second = await readCodeFromMailbox(e2e.browsers.desktop.context, e2e.mailboxUrl, email, first.count);
    await enterCode(page, second.code);
    expect(await claim(page, 'sub')).toBe(sub);
    expect(await claim(page, 'email')).toBe(email);
    await screenshot(page, '10-signed-in-again');

    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);

    // Cancel on Sesame's code page hands access_denied back to the demo, which says so plainly.
    await startSignIn(page, email);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${e2e.demoUrl}/callback`));
    await expect.poll(() => heading(page).textContent()).toBe('Sign-in cancelled');
    expect(await page.getByText('You cancelled the sign-in').isVisible()).toBe(true);
    expect(await page.locator('.code code').textContent()).toBe('access_denied');
    expect(await page.getByRole('link', { name: 'Back to the home page' }).isVisible()).toBe(true);
    await screenshot(page, '11-cancelled');
    await page.getByRole('link', { name: 'Back to the home page' }).click();
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);

    expect(productProblems(e2e.browsers.desktop.problems)).toEqual([]);
    await page.close();
  });

  // The mailbox page names an empty icon so chromium does not ask for /favicon.ico (a 404 error).
  it('shows the dev mailbox page without errors', () => {
    expect(e2e.browsers.desktop.problems.filter((problem) => problem.url.startsWith(e2e.mailboxUrl))).toEqual([]);
  });
});

describe.skipIf(CHROMIUM_MISSING)('the sign-in pages on a 375px-wide phone', () => {
  async function fitsThePhone(page: Page, name: string): Promise<void> {
    await screenshot(page, name);
    const { scrollWidth } = await horizontalOverflow(page);
    expect(scrollWidth, `${name} (${page.url()}) scrolls sideways`).toBeLessThanOrEqual(375);
  }

  it('fits every page of the sign-in without sideways scrolling', async () => {
    // A long but ordinary address: the code page repeats it in a sentence.
    const email = 'firstname.lastname.reader@bookstore-example.co.uk';
    const page = await e2e.browsers.phone.context.newPage();

    await page.goto(e2e.demoUrl);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);
    await fitsThePhone(page, 'm01-home-signed-out');

    await page.getByRole('link', { name: 'Sign In', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(e2e.endpoint));
    await page.getByLabel('Email address').waitFor();
    await fitsThePhone(page, 'm02-email-page');

    const seen = await mailCount(e2e.browsers.phone.context, e2e.mailboxUrl, email);
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    await fitsThePhone(page, 'm03-code-page');

    const { code } = await readCodeFromMailbox(e2e.browsers.phone.context, e2e.mailboxUrl, email, seen);
    await enterCode(page, code);
    expect(await page.locator('.email').first().textContent()).toBe(email);
    await fitsThePhone(page, 'm04-signed-in');

    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe(SIGNED_OUT);

    await page.getByRole('link', { name: 'Sign In', exact: true }).click();
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Sign-in cancelled');
    await fitsThePhone(page, 'm05-cancelled');

    expect(productProblems(e2e.browsers.phone.problems)).toEqual([]);
    await page.close();
  });
});
