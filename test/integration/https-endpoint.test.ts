import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { HttpBrowser } from '../helpers/browser.ts';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';

/** Sesame behind a TLS-terminating proxy: ENDPOINT is https, Sesame itself speaks plain HTTP. */
describe('an https ENDPOINT', () => {
  let sesame: TestSesame;
  beforeAll(async () => {
    sesame = await startTestSesame({ env: { ENDPOINT: 'https://id.example.com' } });
  });
  afterAll(async () => sesame?.stop());

  it('signs in through the proxy with Secure cookies, whether or not the proxy says https', async () => {
    const app = await sesame.registerApp();
    const query = new URLSearchParams({
      client_id: app.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: app.redirectUris[0]!,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    const variants: Record<string, string>[] = [{}, { 'x-forwarded-proto': 'https' }];
    for (const headers of variants) {
      const browser = new HttpBrowser(headers);
      const response = await browser.request(`${sesame.url}/oidc/auth?${query}`);
      expect(response.status, response.body.slice(0, 200)).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/interaction\/[\w-]+$/);
      const cookies = response.headers.getSetCookie();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) {
        expect(cookie).toMatch(/;\s*secure/i);
        expect(cookie).toMatch(/;\s*httponly/i);
        expect(cookie).toMatch(/;\s*samesite=lax/i);
      }
    }
  });

  it('publishes its endpoints under ENDPOINT whatever Host the request carries, and sends HSTS on its pages', async () => {
    for (const host of [new URL(sesame.url).host, 'evil.example']) {
      const { body } = await request(`${sesame.url}/oidc/.well-known/openid-configuration`, { headers: { host } });
      const discovery = (await body.json()) as Record<string, string>;
      expect(discovery.issuer).toBe('https://id.example.com/oidc');
      expect(discovery.token_endpoint).toBe('https://id.example.com/oidc/token');
      expect(discovery.authorization_endpoint).toBe('https://id.example.com/oidc/auth');
    }
    const health = await fetch(`${sesame.url}/health`);
    expect(health.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});
