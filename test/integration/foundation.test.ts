import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { discover } from '../helpers/oidc.ts';
import { HttpBrowser } from '../helpers/browser.ts';

async function jwks(sesame: TestSesame): Promise<unknown> {
  return (await fetch(`${sesame.issuer}/jwks`)).json();
}

describe('the OIDC provider at /oidc', () => {
  let sesame: TestSesame;
  beforeAll(async () => {
    sesame = await startTestSesame();
  });
  afterAll(async () => sesame?.stop());

  it('answers discovery through openid-client with the exact issuer and S256 only', async () => {
    const app = await sesame.registerApp();
    const config = await discover(sesame.issuer, app);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(`${sesame.config.endpoint}/oidc`);
    expect(metadata.authorization_endpoint).toBe(`${sesame.issuer}/auth`);
    expect(metadata.token_endpoint).toBe(`${sesame.issuer}/token`);
    expect(metadata.userinfo_endpoint).toBe(`${sesame.issuer}/me`);
    expect(metadata.jwks_uri).toBe(`${sesame.issuer}/jwks`);
    expect(metadata.end_session_endpoint).toBeTruthy();
    expect(metadata.revocation_endpoint).toBeTruthy();
    expect(metadata.introspection_endpoint).toBeTruthy();
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
  });

  it('publishes an RS256 and an ES256 key with string-only members', async () => {
    const { keys } = (await jwks(sesame)) as { keys: Record<string, unknown>[] };
    expect(keys.map((key) => key.alg)).toEqual(['RS256', 'ES256']);
    for (const key of keys) {
      for (const value of Object.values(key)) expect(typeof value).toBe('string');
      expect(key).not.toHaveProperty('d');
    }
  });

  it('answers /health with 200 while the database answers', async () => {
    const response = await fetch(`${sesame.config.endpoint}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('uses an app registered while it runs, and refuses a wrong secret with invalid_client', async () => {
    const app = await sesame.registerApp();
    const config = await discover(sesame.issuer, app);
    const response = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.id}:not-the-secret`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'whatever' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('shows an error page, not a redirect, for an unregistered redirect_uri', async () => {
    const app = await sesame.registerApp();
    const url = new URL(`${sesame.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: app.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'https://evil.example/callback',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    }).toString();
    const page = await new HttpBrowser().request(url.toString());
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.body).toContain('Unregistered return address');
    expect(page.body).not.toContain('evil.example');
  });

  it('refuses PKCE plain and a missing code_challenge', async () => {
    const app = await sesame.registerApp();
    const variants: Record<string, string>[] = [{ code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }, {}];
    for (const extra of variants) {
      const url = new URL(`${sesame.issuer}/auth`);
      url.search = new URLSearchParams({ client_id: app.id, response_type: 'code', scope: 'openid', redirect_uri: app.redirectUris[0]!, ...extra }).toString();
      const response = await new HttpBrowser().request(url.toString());
      expect(response.status).toBe(303);
      expect(new URL(response.location!).searchParams.get('error')).toBe('invalid_request');
    }
  });

  it('renders an unknown client as a readable page', async () => {
    const page = await new HttpBrowser().request(`${sesame.issuer}/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=http://x/cb`);
    expect(page.status).toBe(400);
    expect(page.body).toContain('Unknown application');
    expect(page.body).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('persisted keys', () => {
  it('serves the same JWKS after a restart on the same database, and a different one on a fresh database', async () => {
    const dir = tempDir();
    try {
      const first = await startTestSesame({ dir: dir.path });
      const before = await jwks(first);
      await first.stop();
      const second = await startTestSesame({ dir: dir.path });
      const after = await jwks(second);
      await second.stop();
      expect(after).toEqual(before);
      const fresh = await startTestSesame();
      expect(await jwks(fresh)).not.toEqual(before);
      await fresh.stop();
    } finally {
      dir.remove();
    }
  });
});
