import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, explainChromiumSkip, screenshotBothWidths, startE2eStack, type SmtpE2e } from '../helpers/e2e.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { listPasskeys } from '../../src/db/passkeys.ts';
import { findUserByEmail } from '../../src/db/users.ts';

/**
 * Passkeys in a real chromium with its virtual authenticator (DevTools protocol): a person signs in
 * to their account page with an emailed code, adds a passkey, signs out, and signs back in with the
 * passkey alone (the SMTP server receives nothing); the same authenticator cannot be added twice, a
 * second one can; passkeys are renamed and removed on the page, and listed and deleted through the
 * management API. ENDPOINT is http://localhost:PORT: WebAuthn needs a secure context and a domain
 * as RP ID, and chromium treats localhost as secure. Every page is photographed at 375 px too.
 */
explainChromiumSkip();

const EMAIL = 'passkey.person@example.com';
let e2e: SmtpE2e<'desktop'>;

beforeAll(async () => {
  if (CHROMIUM_MISSING) return;
  e2e = await startE2eStack({ mail: 'smtp', endpointHost: 'localhost', browsers: { desktop: {} } });
});

afterAll(async () => {
  await e2e?.close();
});

const heading = (page: Page) => page.locator('h1').first();

/** Desktop, then 375 px (no sideways scrolling), then back. */
const shoot = (page: Page, name: string) => screenshotBothWidths(page, `passkeys-${name}`, name);

async function addAuthenticator(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return authenticatorId;
}

/** The amr of each Sesame session of the account. */
async function sessionAmrs(accountId: string): Promise<string[][]> {
  const rows = await e2e.sesame.db.selectFrom('oidc_model_instances').select('payload').where('model', '=', 'Session').execute();
  return rows.map((row) => JSON.parse(row.payload) as { accountId?: string; amr?: string[] }).filter((session) => session.accountId === accountId).map((session) => session.amr ?? []);
}

describe.skipIf(CHROMIUM_MISSING)('passkeys in chromium', () => {
  it('adds a passkey after a code sign-in, signs in with it without mail, manages passkeys on /account and through the API', async () => {
    const page = await e2e.browsers.desktop.context.newPage();
    const cdp = await e2e.browsers.desktop.context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const first = await addAuthenticator(cdp);

    // 1. The account page sends the person to Sesame's sign-in; the email page offers a passkey too.
    await page.goto(`${e2e.endpoint}/account`);
    await expect.poll(() => heading(page).textContent()).toBe('Sign in');
    const passkeyButton = page.getByRole('button', { name: 'Sign in with a passkey' });
    await passkeyButton.waitFor({ state: 'visible' });
    expect(await page.getByLabel('Email address').getAttribute('autocomplete')).toBe('username webauthn');
    await shoot(page, '01-email-page');

    // 2. Sign in with an emailed code.
    await page.getByLabel('Email address').fill(EMAIL);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Check your email');
    const mail = await e2e.smtp.waitForMail(EMAIL);
    await page.getByLabel('Verification code').fill(codeFrom(mail));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${e2e.endpoint}/account`);
    await expect.poll(() => heading(page).textContent()).toBe('Your account');
    expect(await page.locator('.account-email').textContent()).toBe(EMAIL);
    expect(await page.getByText('You have no passkeys yet.').count()).toBe(1);
    await shoot(page, '02-account-empty');
    const user = (await findUserByEmail(e2e.sesame.db, EMAIL))!;

    // 3. Add a passkey (the virtual authenticator answers), named.
    const name = page.getByLabel('Name for the new passkey');
    await name.fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.locator('.alert-notice').textContent()).toContain('Passkey “Laptop” added.');
    expect(await page.locator('.passkey-name').allTextContents()).toEqual(['Laptop']);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: first });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect(credentials[0]!.rpId).toBe('localhost');
    const [stored] = await listPasskeys(e2e.sesame.db, user.id);
    expect(stored!.credentialId).toBe(Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url'));
    await shoot(page, '03-account-one-passkey');

    // The same authenticator twice: the browser refuses (excludeCredentials) and the page says so.
    await name.fill('Laptop again');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.locator('[data-passkey-status]').textContent()).toContain('already has a passkey');
    expect(await listPasskeys(e2e.sesame.db, user.id)).toHaveLength(1);

    // 4. Sign out (Sesame's session ends too).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Signed out');
    await page.goto(`${e2e.endpoint}/account`);

    // 5. Sign in with the passkey alone: no address typed, no mail sent. Chromium's virtual
    // authenticator answers the email field's autofill (conditional UI) request by itself, so the
    // email page signs in without a click.
    const mailsBefore = e2e.smtp.countFor(EMAIL);
    await page.waitForURL(`${e2e.endpoint}/account`);
    await expect.poll(() => heading(page).textContent()).toBe('Your account');
    expect(e2e.smtp.countFor(EMAIL)).toBe(mailsBefore);
    expect(await sessionAmrs(user.id)).toContainEqual(['hwk', 'user', 'mfa']);
    expect((await listPasskeys(e2e.sesame.db, user.id))[0]!.lastUsedAt).not.toBeNull();

    // 6. A second passkey, on another authenticator.
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first });
    await addAuthenticator(cdp);
    await name.fill('Phone');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => page.locator('.passkey-name').allTextContents()).toEqual(['Laptop', 'Phone']);

    // ... which signs in with the button, in a browser without autofill for passkeys.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Signed out');
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    await page.goto(`${e2e.endpoint}/account`);
    await expect.poll(() => heading(page).textContent()).toBe('Sign in');
    await passkeyButton.click();
    await page.waitForURL(`${e2e.endpoint}/account`);
    await expect.poll(() => heading(page).textContent()).toBe('Your account');
    expect(e2e.smtp.countFor(EMAIL)).toBe(mailsBefore);
    expect((await listPasskeys(e2e.sesame.db, user.id))[1]!.lastUsedAt).not.toBeNull();

    // 7. Rename.
    await page.getByRole('link', { name: 'Rename Phone' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Rename passkey');
    await shoot(page, '04-rename');
    await page.getByLabel('Name', { exact: true }).fill('Work phone');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.passkey-name').allTextContents()).toEqual(['Laptop', 'Work phone']);

    // 8. Remove, after a confirmation page.
    await page.getByRole('link', { name: 'Remove Laptop' }).click();
    await expect.poll(() => heading(page).textContent()).toBe('Remove “Laptop”?');
    await shoot(page, '05-remove-confirm');
    await page.getByRole('button', { name: 'Remove passkey' }).click();
    await expect.poll(() => page.locator('.passkey-name').allTextContents()).toEqual(['Work phone']);
    await shoot(page, '06-account-after-remove');

    // 9. The management API lists and deletes them.
    const m2m = await createApplication(e2e.sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(e2e.sesame.db, m2m.id, true, CLI);
    const issued = await fetch(`${e2e.sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: m2m.id, client_secret: m2m.secret, resource: `${e2e.endpoint}/api`, scope: 'all' }),
    });
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const list = await fetch(`${e2e.endpoint}/api/users/${user.id}/passkeys`, { headers: { authorization: `Bearer ${token}` } });
    const listed = (await list.json()) as { id: string; name: string; deviceType: string }[];
    expect(listed.map((p) => p.name)).toEqual(['Work phone']);
    const removed = await fetch(`${e2e.endpoint}/api/users/${user.id}/passkeys/${listed[0]!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(removed.status).toBe(204);
    await page.reload();
    expect(await page.getByText('You have no passkeys yet.').count()).toBe(1);

    // No CSP violation, script error or failed request on any page of the way.
    expect(e2e.browsers.desktop.problems.filter((problem) => problem.kind !== 'http-error' || !/\/favicon\.ico$/.test(problem.text))).toEqual([]);
    await page.close();
  });
});
