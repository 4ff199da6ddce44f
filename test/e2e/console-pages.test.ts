import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, screenshot, screenshotBothWidths, startE2eStack, type PageProblem, type SmtpE2e } from '../helpers/e2e.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';

/**
 * The admin console's later pages in a real chromium: the sign-in experience with its live preview
 * (and the real sign-in page changing once it is saved), API resources, the Email page (TLS from the
 * port, a test mail, a template preview), the audit log, a user's sessions; then the administrator's
 * session survives a restart of Sesame, and signing out of the console signs out of Sesame. Every
 * page is photographed at desktop width and at 375 px.
 */
explainChromiumSkip();

const ADMIN = 'admin@pages.example';
const APP_REDIRECT = 'http://127.0.0.1:9/callback';

let e2e: SmtpE2e<'admin' | 'person'>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  // `person`: someone else's browser, not signed in to Sesame: where the sign-in page is seen as a person sees it.
  e2e = await startE2eStack({ mail: 'smtp', admin: ADMIN, browsers: { admin: {}, person: {} } });
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();

/** Both widths: desktop as it is, then 375 px (no sideways scrolling), then back. */
const shoot = (page: Page, name: string) => screenshotBothWidths(page, `console-${name}`, name);

describe.skipIf(CHROMIUM_MISSING)('the admin console\'s later pages in chromium', () => {
  it('changes the sign-in experience with a live preview, manages API resources, email and the audit log, survives a restart, and signs out of Sesame', async () => {
    const endpoint = e2e.sesame.config.endpoint;
    const page = await e2e.browsers.admin.context.newPage();
    await page.goto(`${endpoint}/console`);
    await page.getByLabel('Email address').fill(ADMIN);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    await page.getByLabel('Verification code').fill(codeFrom(await e2e.smtp.waitForMail(ADMIN)));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${endpoint}/console`);

    // ---------- Sign-in experience ----------
    const app = await e2e.sesame.registerApp({ name: 'Reading room', redirectUris: [APP_REDIRECT] });
    const config = await discover(e2e.sesame.issuer, app);
    const signInPage = async (context = e2e.browsers.person.context) => {
      const tab = await context.newPage();
      await tab.goto((await startAuthorization(config, APP_REDIRECT)).url);
      return tab;
    };
    const before = await signInPage();
    expect(await before.getByRole('link', { name: 'Sign in with a password instead' }).count()).toBe(0);
    await before.close();

    await page.getByRole('link', { name: 'Sign-in experience', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Sign-in experience');
    const preview = page.frameLocator('#preview-frame');
    await expect.poll(() => preview.locator('h1').textContent()).toBe('Sign in');
    expect(await preview.getByText('Sign in with a password instead').count()).toBe(0);
    // Ticking "A password" updates the preview at once, before anything is saved.
    await page.getByLabel('A password', { exact: true }).check();
    await expect.poll(() => preview.getByText('Sign in with a password instead').count()).toBe(1);
    await page.getByLabel('Step to preview').selectOption('password');
    await expect.poll(() => preview.locator('h1').textContent()).toBe('Enter your password');
    await page.getByLabel('Step to preview').selectOption('email');
    await shoot(page, '11-sign-in-experience');

    // The browser refuses an out-of-range number; nothing is sent.
    await page.getByLabel('Code lifetime (minutes)').fill('0');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await page.getByLabel('Code lifetime (minutes)').evaluate((input: HTMLInputElement) => input.validity.rangeUnderflow)).toBe(true);
    await page.getByLabel('Code lifetime (minutes)').fill('15');
    // The server refuses a combination no field shows alone: the message sits next to the field, the form as typed.
    await page.getByLabel('A code sent by email', { exact: true }).uncheck();
    await expect.poll(() => preview.locator('h1').textContent()).toBe('No preview for these settings');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.locator('#f-passwordAtSignUp-error').textContent()).toContain('With passwords as the only way to sign in');
    expect(await page.getByLabel('A code sent by email', { exact: true }).isChecked()).toBe(false);
    expect(await page.getByLabel('A password', { exact: true }).isChecked()).toBe(true);
    expect(await page.getByLabel('Code lifetime (minutes)').inputValue()).toBe('15');
    await shoot(page, '12-sign-in-experience-refused');
    await page.getByLabel('A code sent by email', { exact: true }).check();
    await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'GET' && response.url() === `${endpoint}/console/sign-in-experience`),
      page.getByRole('button', { name: 'Save changes' }).click(),
    ]);
    await expect.poll(() => page.locator('.alert-success').textContent()).toContain('Saved.');
    // The real sign-in page changed.
    const after = await signInPage();
    await expect.poll(() => after.getByRole('link', { name: 'Sign in with a password instead' }).count()).toBe(1);
    await screenshot(after, 'console-13-sign-in-page-after-change');
    await after.close();

    // ---------- API resources ----------
    await page.getByRole('link', { name: 'API resources', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('API resources');
    await page.getByRole('link', { name: 'Register API resource' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Orders');
    await page.getByLabel('API identifier').fill('https://orders.example.com');
    await shoot(page, '14-resource-new');
    await page.getByRole('button', { name: 'Register API resource' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Orders');
    expect(await page.getByLabel('API identifier').getAttribute('readonly')).not.toBeNull();
    await page.getByLabel('Scope', { exact: true }).fill('read:orders');
    await page.getByLabel('Description').fill('See orders');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await expect.poll(() => page.locator('.scope-item').count()).toBe(1);
    await page.getByLabel('Scope', { exact: true }).fill('write:orders');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await expect.poll(() => page.locator('.scope-item').count()).toBe(2);
    await shoot(page, '15-resource');
    await page.getByRole('button', { name: 'Remove the scope write:orders' }).click();
    await expect.poll(() => page.locator('.scope-item').count()).toBe(1);
    await page.getByRole('link', { name: 'API resources', exact: true }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await shoot(page, '16-resources');
    await page.getByRole('link', { name: 'Orders' }).click();
    await page.getByRole('link', { name: 'Delete…' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Delete Orders?');
    await shoot(page, '17-resource-delete-confirm');
    await page.getByRole('button', { name: 'Delete Orders' }).click();
    await expect.poll(() => page.locator('.alert-success').textContent()).toContain('Deleted Orders.');

    // ---------- Email ----------
    await page.getByRole('link', { name: 'Email', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Email');
    await page.getByLabel('SMTP server').fill('127.0.0.1');
    await page.getByLabel('Port').fill('465');
    await expect.poll(() => page.locator('#tls-note').textContent()).toContain('Port 465: implicit TLS.');
    await page.getByLabel('Port').fill(String(e2e.smtp.port));
    await expect.poll(() => page.locator('#tls-note').textContent()).toContain(`Port ${e2e.smtp.port}: STARTTLS when the server offers it.`);
    await page.getByLabel('User name').fill('mailer');
    await page.getByLabel('Password').fill('s3cret');
    await page.getByLabel('From').fill('Reading room <no-reply@pages.example>');
    await page.getByRole('button', { name: 'Store connector' }).click();
    await expect.poll(() => page.locator('.alert-success').textContent()).toContain('Saved.');
    expect(await page.getByLabel('Password').inputValue()).toBe('********');
    const sent = e2e.smtp.countFor(ADMIN);
    await page.getByRole('button', { name: 'Send test mail' }).click();
    await expect.poll(() => page.locator('#test-result').textContent()).toMatch(/Sent\. The SMTP server answered:\s*250/);
    expect((await e2e.smtp.waitForMail(ADMIN, { after: sent })).subject).toBe('Sesame test email');
    await page.locator('details.raw summary').click();
    await shoot(page, '18-email');
    e2e.smtp.refuse = 'permanent';
    await page.getByRole('button', { name: 'Send test mail' }).click();
    await expect.poll(() => page.locator('#test-result').textContent()).toContain('refused the recipient: 550');
    e2e.smtp.refuse = false;
    await shoot(page, '19-email-test-failed');

    await page.getByRole('link', { name: 'Sign-in code' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Sign-in code email');
    const mailPreview = page.frameLocator('#mail-preview');
    await expect.poll(() => mailPreview.locator('.mail-head strong').textContent()).toContain('Your app');
    await expect.poll(() => mailPreview.frameLocator('.mail-body').getByText('123456').count()).toBeGreaterThan(0);
    await page.getByLabel('Subject').fill('Your {{application.name}} code');
    await page.getByRole('button', { name: 'Preview draft' }).click();
    await expect.poll(() => mailPreview.locator('.mail-head strong').textContent()).toBe('Your Your app code');
    await shoot(page, '20-email-template');
    await page.getByRole('button', { name: 'Save template' }).click();
    await expect.poll(() => page.locator('.alert-success').textContent()).toContain('Saved.');

    // ---------- Audit log ----------
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Audit log');
    await page.getByLabel('Event type').fill('Management.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBeGreaterThan(3);
    await shoot(page, '21-audit-log');
    await page.locator('tbody tr a').first().click();
    await expect.poll(() => page.locator('.crumbs').textContent()).toContain('Audit log');
    await expect.poll(() => page.getByText(`administrator ${ADMIN}`).count()).toBe(1);
    await shoot(page, '22-audit-event');

    // ---------- A user's sessions: the administrator's own ----------
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('link', { name: ADMIN }).click();
    await expect.poll(() => page.locator('#sessions-heading').isVisible()).toBe(true);
    expect(await page.locator('section[aria-labelledby="sessions-heading"] tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('section[aria-labelledby="sessions-heading"]').textContent()).toContain('Chrome on Linux');
    await shoot(page, '23-user-sessions');

    // ---------- The session survives a restart ----------
    await e2e.restart();
    await page.goto(`${endpoint}/console/logs`);
    await expect.poll(() => heading(page).textContent()).toBe('Audit log');
    expect(page.url()).toBe(`${endpoint}/console/logs`);

    // ---------- Signing out of the console signs out of Sesame ----------
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${endpoint}/console/signed-out`);
    const again = await signInPage(e2e.browsers.admin.context);
    // Sesame asks who this is again: no session to sign the app in with.
    await expect.poll(() => again.getByLabel('Email address').isVisible()).toBe(true);
    await again.close();

    // The sign-in preview's frame runs no script (sandbox, CSP): the sign-in page's own script is blocked there on purpose.
    const expected = (problem: PageProblem) =>
      (problem.kind === 'http-error' && /^400 (POST|GET) /.test(problem.text)) ||
      (problem.kind === 'console-error' && /status of 400/.test(problem.text)) ||
      /sesame\.js|sandboxed and the 'allow-scripts'/.test(problem.text);
    expect(e2e.browsers.admin.problems.filter((problem) => !expected(problem))).toEqual([]);
  });
});
