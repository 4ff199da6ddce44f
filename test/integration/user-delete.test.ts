import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { HttpBrowser } from '../helpers/browser.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { sesameCli } from '../helpers/cli.ts';

describe('sesame user delete', () => {
  let sesame: TestSesameWithMail;
  beforeAll(async () => {
    sesame = await startSesameWithMail();
  });
  afterAll(() => sesame?.stop());

  it('removes the account and ends its sessions and tokens, from the CLI while the server runs', async () => {
    const app = await sesame.registerApp();
    const config = await discover(sesame.issuer, app);
    const redirect = app.redirectUris[0]!;
    const email = 'leaving@example.com';
    const browser = new HttpBrowser();
    const start = await startAuthorization(config, redirect);
    const tokens = await exchange(config, (await signInWithEmail(browser, sesame.smtp, start, email, redirect)).callback, start);
    const sub = tokens.claims()!.sub;

    const cli = (args: string[]) => sesameCli(args, { cwd: sesame.dir, database: sesame.databaseUrl });
    expect((await cli(['user', 'delete', 'nobody@example.com'])).code).toBe(2);
    expect((await cli(['user', 'delete'])).code).toBe(2);
    const deleted = await cli(['user', 'delete', 'Leaving@Example.com']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(sub);

    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The browser's Sesame session is gone too: a silent sign-in needs a login again.
    const silent = await startAuthorization(config, redirect, { prompt: 'none' });
    const denied = await browser.follow(silent.url, {}, redirect);
    expect(new URL(denied.location!).searchParams.get('error')).toBe('login_required');
    // Signing up again makes a new account.
    const again = await startAuthorization(config, redirect);
    const fresh = await exchange(config, (await signInWithEmail(new HttpBrowser(), sesame.smtp, again, email, redirect)).callback, again);
    expect(fresh.claims()!.sub).not.toBe(sub);
  });
});
