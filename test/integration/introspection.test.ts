import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { discover, exchange, startAuthorization } from '../helpers/oidc.ts';
import { authorizeSignedIn, signedInBrowser } from '../helpers/session.ts';
import type { Application } from '../../src/db/applications.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

describe('token introspection answers only the client the token was issued to', () => {
  let sesame: TestSesame;
  let appA: Application;
  let appB: Application;
  let tokens: { access_token: string; refresh_token?: string };

  beforeAll(async () => {
    sesame = await startTestSesame();
    appA = await sesame.registerApp({ name: 'App A' });
    appB = await sesame.registerApp({ name: 'App B' });
    const config = await discover(sesame.issuer, appA);
    const start = await startAuthorization(config, REDIRECT);
    const { browser } = await signedInBrowser(sesame, 'introspected@example.com');
    tokens = await exchange(config, await authorizeSignedIn(browser, start.url, REDIRECT), start);
    expect(tokens.refresh_token).toBeTruthy();
  });
  afterAll(() => sesame?.stop());

  async function introspect(app: Application, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${sesame.issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('tells the token’s own client that its access and refresh tokens are active', async () => {
    const access = await introspect(appA, tokens.access_token);
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({ active: true, client_id: appA.id });
    const refresh = await introspect(appA, tokens.refresh_token!);
    expect(refresh.body).toMatchObject({ active: true, client_id: appA.id });
  });

  it('tells another registered client nothing: {active: false} and no other member', async () => {
    const access = await introspect(appB, tokens.access_token);
    expect(access.status).toBe(200);
    expect(access.body).toEqual({ active: false });
    const refresh = await introspect(appB, tokens.refresh_token!);
    expect(refresh.body).toEqual({ active: false });
  });

  it('answers a token that does not exist with {active: false} too', async () => {
    expect((await introspect(appB, 'no-such-token')).body).toEqual({ active: false });
  });
});
