import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, nonLoopbackAddress, readCodeFromMailbox, screenshot, startE2eStack, type DemoE2e, type PageProblem } from '../helpers/e2e.ts';

/**
 * ENDPOINT=http://192.168.1.10:3001 (to try the demo from a phone on the LAN) or a plain-http
 * staging name is allowed outside production. Browsers trust plain http only on localhost and
 * 127.0.0.0/8, so this runs both apps on the machine's own network address: a page that tells
 * the browser to upgrade its requests to https breaks there and nowhere else.
 */
const host = nonLoopbackAddress();

explainChromiumSkip();

let e2e: DemoE2e<'desktop'>;

beforeAll(async () => {
  if (!host || CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'demo', host, browsers: { desktop: {} } });
});

afterAll(async () => {
  await e2e?.close();
});

function heading(page: Page) {
  return page.locator('h1').first();
}

/** Every problem on any page, the dev mailbox included. */
function realProblems(): PageProblem[] {
  return e2e.browsers.desktop.problems;
}

describe.skipIf(CHROMIUM_MISSING)('Sesame and the demo on a plain-http network address', () => {
  // Without care, helmet's default CSP sends `upgrade-insecure-requests` on a plain-http ENDPOINT and
  // chromium then loads assets and posts forms over https (ERR_SSL_PROTOCOL_ERROR).
  (host ? it : it.skip)('keep their styles and forms on http', async () => {
    const email = 'lan.reader@bookstore.example';
    const page = await e2e.browsers.desktop.context.newPage();
    const https: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith('https:')) https.push(request.url());
    });

    await page.goto(e2e.demoUrl);
    await page.getByRole('link', { name: 'Sign In', exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(e2e.endpoint), { waitUntil: 'commit' });
    await page.getByLabel('Email address').waitFor();
    // The stylesheet loaded: the primary button is not the browser's grey default.
    const buttonColour = await page.locator('.btn-primary').first().evaluate((button) => getComputedStyle(button).backgroundColor);
    await screenshot(page, 'h01-email-page-plain-http-host');
    expect(buttonColour).not.toBe('rgb(239, 239, 239)');

    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent().catch(() => '')).toBe('Check your email');
    const { code } = await readCodeFromMailbox(e2e.browsers.desktop.context, e2e.mailboxUrl, email, 0);
    await page.getByLabel('Verification code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe('You are logged in');

    await page.getByRole('link', { name: 'Sign Out' }).click();
    await page.waitForURL(`${e2e.demoUrl}/`);
    await expect.poll(() => heading(page).textContent()).toBe('You are not logged in to this website');

    expect(https).toEqual([]);
    expect(realProblems()).toEqual([]);
    await page.close();
  });
});
