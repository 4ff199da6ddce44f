import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { codeFrom, startSmtpCatcher, type SmtpCatcher } from '../helpers/smtp.ts';
import { startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { sesameCli } from '../helpers/cli.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const MINUTE = 60_000;

type Jwk = Record<string, unknown>;

async function fetchJwks(sesame: TestSesame): Promise<{ keys: Jwk[]; cacheControl: string | null }> {
  const response = await fetch(`${sesame.issuer}/jwks`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/jwk-set+json; charset=utf-8');
  return { keys: ((await response.json()) as { keys: Jwk[] }).keys, cacheControl: response.headers.get('cache-control') };
}

const kidsOf = (keys: Jwk[], alg?: string) => keys.filter((key) => !alg || key.alg === alg).map((key) => String(key.kid));

describe('JWKS and discovery caching, and key rotation that publishes before it signs', () => {
  let smtp: SmtpCatcher;
  const dir = tempDir('sesame-jwks-');
  let sesame: TestSesame | undefined;
  let counter = 0;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
  });
  afterAll(async () => {
    await sesame?.stop();
    await smtp?.close();
    dir.remove();
  });

  /** The servers' clock runs this far ahead of the real one (set by a test to pass a grace period). */
  let clockAheadMs = 0;

  async function start(): Promise<TestSesame> {
    await sesame?.stop();
    sesame = await startTestSesame({ smtpPort: smtp.port, dir: dir.path, sesame: { now: () => Date.now() + clockAheadMs } });
    return sesame;
  }

  /** Waits for `check` to hold, looking every 100 ms for up to `ms`. */
  async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 3000): Promise<T> {
    let value = await read();
    for (const deadline = Date.now() + ms; !check(value) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      value = await read();
    }
    return value;
  }

  /** Signs someone in and returns the kid in the ID token's header (verified by openid-client). */
  async function idTokenKid(running: TestSesame): Promise<string> {
    const config = await discover(running.issuer, await running.registerApp());
    const authorization = await startAuthorization(config, REDIRECT);
    const { callback } = await signInWithEmail(new HttpBrowser(), smtp, authorization, `rotation${++counter}@example.com`, REDIRECT);
    const tokens = await exchange(config, callback, authorization);
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
    expect(header.alg).toBe('RS256');
    return header.kid;
  }

  it('sends Cache-Control on discovery (1 hour) and JWKS (10 minutes), JWKS in oidc-provider’s string-only shape', async () => {
    const running = await start();
    const discovery = await fetch(`${running.issuer}/.well-known/openid-configuration`);
    expect(discovery.headers.get('cache-control')).toBe('public, max-age=3600');
    const { keys, cacheControl } = await fetchJwks(running);
    expect(cacheControl).toBe('public, max-age=600');
    expect(keys.map((key) => key.alg)).toEqual(['RS256', 'ES256']);
    expect(Object.keys(keys[0]!)).toEqual(['kty', 'use', 'kid', 'alg', 'e', 'n']);
    expect(Object.keys(keys[1]!)).toEqual(['kty', 'use', 'kid', 'alg', 'crv', 'x', 'y']);
    for (const key of keys) for (const value of Object.values(key)) expect(typeof value).toBe('string');
    // Errors are not cached.
    const wrongMethod = await fetch(`${running.issuer}/jwks`, { method: 'POST' });
    expect(wrongMethod.status).not.toBe(200);
    expect(wrongMethod.headers.get('cache-control') ?? '').not.toContain('max-age');
  });

  it('publishes a key rotated in while running within a second, and signs with it only after the JWKS max-age', async () => {
    let running = await start();
    const before = await fetchJwks(running);
    const oldKid = kidsOf(before.keys, 'RS256')[0]!;
    expect(await idTokenKid(running)).toBe(oldKid);

    const rotated = await sesameCli(['keys', 'rotate', '--purpose', 'signing'], { cwd: dir.path, database: running.databaseUrl });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/published now at \/oidc\/jwks/);
    expect(rotated.stdout).toMatch(/10 minutes/);

    // Published within a second, by the process that was already running.
    const after = await eventually(() => fetchJwks(running), (jwks) => jwks.keys.length > before.keys.length);
    const newKids = kidsOf(after.keys).filter((kid) => !kidsOf(before.keys).includes(kid));
    expect(newKids).toHaveLength(2);
    expect(kidsOf(after.keys)).toEqual(expect.arrayContaining(kidsOf(before.keys)));
    const newRsKid = kidsOf(after.keys, 'RS256').find((kid) => kid !== oldKid)!;
    expect(newKids).toContain(newRsKid);
    // The running process keeps signing with the old key.
    expect(await idTokenKid(running)).toBe(oldKid);

    // A restart within the max-age: the new key is loaded and published, but the old one still signs.
    running = await start();
    expect(kidsOf((await fetchJwks(running)).keys)).toEqual(expect.arrayContaining([...kidsOf(before.keys), ...newKids]));
    expect(await idTokenKid(running)).toBe(oldKid);

    // Once the new key has been published longer than any JWKS cache may live, the same running
    // process signs with it (within a second: it looks again every second), no restart needed.
    clockAheadMs = 11 * MINUTE;
    const signer = await eventually(() => idTokenKid(running), (kid) => kid === newRsKid, 5000);
    expect(signer).toBe(newRsKid);
    const later = await fetchJwks(running);
    // The retired key is still published, for the tokens it signed.
    expect(kidsOf(later.keys)).toContain(oldKid);
    expect(kidsOf(later.keys)).toContain(newRsKid);
  });

  it('rotates cookie and code keys while running: a sign-in under way when they change still completes, and new ones use them', async () => {
    clockAheadMs = 0;
    const running = await start();
    const config = await discover(running.issuer, await running.registerApp());
    const keysBefore = running.keyRing.current();

    // A sign-in up to the code page under the old keys: its cookies (interaction, CSRF) are signed
    // with the old cookie key and its code is stored under the old code key.
    const authorization = await startAuthorization(config, REDIRECT);
    const browser = new HttpBrowser();
    const email = `rotation${++counter}@example.com`;
    const emailPage = await browser.follow(authorization.url);
    expect(emailPage.status).toBe(200);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.status).toBe(200);
    const code = codeFrom(await smtp.waitForMail(email));

    const rotated = await sesameCli(['keys', 'rotate', '--purpose', 'cookie'], { cwd: dir.path, database: running.databaseUrl });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/no restart needed/);
    expect((await sesameCli(['keys', 'rotate', '--purpose', 'code-hmac'], { cwd: dir.path, database: running.databaseUrl })).code).toBe(0);

    // Seen within a second: accepted at once, but the old keys still sign for a few seconds.
    const seen = await eventually(
      async () => running.keyRing.current(),
      (keys) => keys.cookie.length === keysBefore.cookie.length + 1 && keys.codeHmac.length === keysBefore.codeHmac.length + 1,
    );
    expect(seen.cookie[0]).toBe(keysBefore.cookie[0]);
    expect(seen.codeHmac[0]!.equals(keysBefore.codeHmac[0]!)).toBe(true);

    // Past the propagation delay the new keys sign; the sign-in started before still completes.
    clockAheadMs = 6000;
    const switched = await eventually(
      async () => running.keyRing.current(),
      (keys) => keys.cookie[0] !== keysBefore.cookie[0] && !keys.codeHmac[0]!.equals(keysBefore.codeHmac[0]!),
    );
    expect(keysBefore.cookie).not.toContain(switched.cookie[0]);
    const done = await browser.submit(codePage, '/code', { code }, REDIRECT);
    expect(done.location?.startsWith(REDIRECT)).toBe(true);
    expect((await exchange(config, done.location!, authorization)).id_token).toBeTruthy();

    // A new sign-in, entirely under the new keys.
    const next = await startAuthorization(config, REDIRECT);
    const second = await signInWithEmail(new HttpBrowser(), smtp, next, `rotation${++counter}@example.com`, REDIRECT);
    expect((await exchange(config, second.callback, next)).id_token).toBeTruthy();
  });
});
