import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { CHROMIUM_MISSING, explainChromiumSkip, screenshotBothWidths, startE2eStack, type PageProblem, type SmtpE2e } from '../helpers/e2e.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';

/**
 * The admin console in a real chromium: the first administrator is made with `sesame admin add`,
 * signs in with a code from the (real, test) SMTP server, creates an app whose secret then signs a
 * person in for real, finds that person and revokes their sessions (their refresh token stops
 * working), and signs out. Every page is photographed at desktop width and at 375 px.
 */
explainChromiumSkip();

const ADMIN = 'admin@console.example';
const READER = 'reader@console.example';
const APP_REDIRECT = 'http://127.0.0.1:9/callback';

let e2e: SmtpE2e<'desktop'>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'smtp', admin: ADMIN, browsers: { desktop: {} } });
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();

/** Both widths: desktop as it is, then 375 px (no sideways scrolling), then back. */
const shoot = (page: Page, name: string) => screenshotBothWidths(page, `console-${name}`, name);

describe.skipIf(CHROMIUM_MISSING)('the admin console in chromium', () => {
  it('signs an administrator in with an emailed code, creates an app used for a real sign-in, revokes a user\'s sessions, signs out', async () => {
    const endpoint = e2e.sesame.config.endpoint;
    const page = await e2e.browsers.desktop.context.newPage();

    // Sign in through Sesame's own pages with a code from the SMTP server.
    await page.goto(`${endpoint}/console`);
    await page.getByLabel('Email address').fill(ADMIN);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    const mail = await e2e.smtp.waitForMail(ADMIN);
    await page.getByLabel('Verification code').fill(codeFrom(mail));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${endpoint}/console`);
    await expect.poll(() => heading(page).textContent()).toBe('Overview');
    expect(await page.locator('.account-email').textContent()).toBe(ADMIN);
    expect(await page.locator('.chart').count()).toBe(8);
    await shoot(page, '01-overview');

    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

    // Applications: create a web app; its secret is shown once, with a copy button that works.
    await page.getByRole('link', { name: 'Applications', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Applications');
    await shoot(page, '02-applications');
    await page.getByRole('link', { name: 'Create application' }).click();
    // The browser itself refuses a form without a name (required): nothing is sent.
    await page.getByRole('button', { name: 'Create application' }).click();
    expect(await page.getByLabel('Name', { exact: true }).evaluate((input: HTMLInputElement) => input.validity.valueMissing)).toBe(true);
    expect(page.url()).toBe(`${endpoint}/console/applications/new`);
    await page.getByLabel('Name', { exact: true }).fill('Reading room');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('not a url');
    await page.getByRole('button', { name: 'Create application' }).click();
    // The server's message sits next to the field, and what was typed is still there.
    await expect.poll(() => page.locator('#f-redirectUris-error').textContent()).toContain('must be an absolute http(s) URL');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Reading room');
    expect(await page.getByLabel('Redirect URIs', { exact: true }).inputValue()).toBe('not a url');
    await shoot(page, '03-application-new-refused');
    await page.getByLabel('Redirect URIs', { exact: true }).fill(APP_REDIRECT);
    await page.getByRole('button', { name: 'Create application' }).click();
    await expect.poll(() => heading(page).textContent()).toContain('Reading room');
    const appId = (await page.locator('#v-app-id').textContent())!.trim();
    const secret = (await page.locator('#new-secret').textContent())!.trim();
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    await e2e.browsers.desktop.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: endpoint });
    const copy = page.locator('[data-copy="new-secret"]');
    await copy.click();
    await expect.poll(() => copy.textContent()).toMatch(/Copied|Press Ctrl\+C/);
    await shoot(page, '04-application-created');

    // The secret works: a person signs in to that app for real (email code) and gets a refresh token.
    const reader = new HttpBrowser();
    const config = await discover(e2e.sesame.issuer, { id: appId, secret });
    const start = await startAuthorization(config, APP_REDIRECT);
    const { callback } = await signInWithEmail(reader, e2e.smtp, start, READER, APP_REDIRECT);
    const tokens = await exchange(config, callback, start);
    expect(tokens.refresh_token).toBeTruthy();

    // Users: find the reader, look at them, revoke their sessions.
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByLabel('Search by email, name, username or ID').fill('reader@');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await shoot(page, '05-users-search');
    await page.getByRole('link', { name: READER }).click();
    await expect.poll(() => heading(page).textContent()).toContain(READER);
    // Their audit events: the first sign-in made the account.
    expect(await page.locator('td', { hasText: 'Signed up' }).first().isVisible()).toBe(true);
    await shoot(page, '06-user');
    await page.getByRole('button', { name: 'Revoke sessions' }).click();
    await expect.poll(() => page.locator('.alert-success').textContent()).toContain('Signed out everywhere');
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // Custom data: a JSON mistake is shown next to the field, the text kept.
    await page.getByLabel('Custom data (JSON object)').fill('{"plan": }');
    await page.getByRole('button', { name: 'Save custom data' }).click();
    await expect.poll(() => page.locator('#f-customData-error').textContent()).toContain('not valid JSON');
    expect(await page.getByLabel('Custom data (JSON object)').inputValue()).toBe('{"plan": }');
    await shoot(page, '07-user-custom-data-refused');

    // Delete asks first.
    await page.getByRole('link', { name: 'Delete…' }).click();
    await expect.poll(() => heading(page).textContent()).toBe(`Delete ${READER}?`);
    await shoot(page, '08-user-delete-confirm');
    await page.getByRole('link', { name: 'Cancel' }).click();

    // Sign out: the console session and the Sesame session end; back at the console's signed-out page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${endpoint}/console/signed-out`);
    await expect.poll(() => heading(page).textContent()).toBe('You have signed out');
    await shoot(page, '09-signed-out');
    await page.goto(`${endpoint}/console`);
    await expect.poll(() => page.getByLabel('Email address').isVisible()).toBe(true);

    // Someone who is not an administrator signs in: a clear page, a way out, and nothing of the API.
    const before = e2e.smtp.countFor(READER);
    await page.getByLabel('Email address').fill(READER);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    await page.getByLabel('Verification code').fill(codeFrom(await e2e.smtp.waitForMail(READER, { after: before })));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${endpoint}/console/callback?**`);
    await expect.poll(() => heading(page).textContent()).toBe('You are not an administrator');
    expect(await page.getByText(READER).isVisible()).toBe(true);
    await shoot(page, '10-not-an-administrator');
    await page.getByRole('link', { name: 'Sign out and use another account' }).click();
    await page.waitForURL(`${endpoint}/console/signed-out`);

    // The refused forms answer 400 on purpose (the browser logs each one); anything else is a problem.
    const refusedForm = (problem: PageProblem) =>
      (problem.kind === 'http-error' && /^(400 POST|403 GET) /.test(problem.text)) || (problem.kind === 'console-error' && /status of 40[03]/.test(problem.text));
    expect(e2e.browsers.desktop.problems.filter((problem) => !refusedForm(problem))).toEqual([]);
    // The two refused forms, and the "not an administrator" page (403).
    expect(e2e.browsers.desktop.problems.filter((problem) => problem.kind === 'http-error').map((problem) => problem.text.split(' ').slice(0, 2).join(' '))).toEqual(['400 POST', '400 POST', '403 GET']);
  });
});
