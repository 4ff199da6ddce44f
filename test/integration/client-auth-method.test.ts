import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startTestSesame, tempDir, type TestSesame } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { authorizeSignedIn, signedInBrowser } from '../helpers/session.ts';
import { ROOT, sesameCli } from '../helpers/cli.ts';
import { sql } from 'kysely';
import { openSqlite } from '../../src/db/sqlite.ts';
import { migrate } from '../../src/db/migrate.ts';
import { findApplication, type Application } from '../../src/db/applications.ts';

/**
 * Item 3 of the hardening issue: each client authenticates only with its registered
 * token_endpoint_auth_method. oidc-provider alone accepts client_secret_basic and
 * client_secret_post interchangeably. Requests are sent raw with fetch so the test controls
 * exactly where the secret goes.
 */
const REDIRECT = 'http://127.0.0.1:9/callback';

type Method = 'basic' | 'post';

describe('the registered client authentication method is enforced', () => {
  let sesame: TestSesame;
  let basicApp: Application;
  let postApp: { id: string; secret: string; tokenEndpointAuthMethod: string };

  /** POSTs a form to an /oidc endpoint, authenticating `app` with `method`. */
  async function post(path: string, app: { id: string; secret: string }, method: Method, form: Record<string, string>) {
    const body = new URLSearchParams(form);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (method === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(app.id)}:${encodeURIComponent(app.secret)}`).toString('base64')}`;
    } else {
      body.set('client_id', app.id);
      body.set('client_secret', app.secret);
    }
    const response = await fetch(`${sesame.issuer}${path}`, { method: 'POST', headers, body });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers: response.headers };
  }

  /** A signed-in person's authorization code for `app`, ready to exchange. */
  async function authorizationCode(app: { id: string; secret: string }, email: string) {
    const config = await discover(sesame.issuer, app);
    const start = await startAuthorization(config, REDIRECT);
    const callback = await authorizeSignedIn((await signedInBrowser(sesame, email)).browser, start.url, REDIRECT);
    const code = new URL(callback).searchParams.get('code')!;
    return { code, verifier: start.verifier };
  }

  const codeGrant = (code: string, verifier: string) => ({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });

  function expectWrongMethod(result: { status: number; json: Record<string, unknown> }, registered: string, used: string) {
    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_client');
    expect(result.json.error_description).toContain(`registered for ${registered}`);
    expect(result.json.error_description).toContain(`not ${used}`);
  }

  beforeAll(async () => {
    sesame = await startTestSesame();
    basicApp = await sesame.registerApp({ name: 'Basic App' });
    // The post app is registered with the real command, as an operator would.
    const created = await sesameCli(
      ['app', 'create', '--name', 'Post App', '--type', 'traditional', '--redirect-uri', REDIRECT, '--token-endpoint-auth-method', 'client_secret_post', '--json'],
      { cwd: sesame.dir, database: sesame.databaseUrl },
    );
    expect(created.code, created.stderr).toBe(0);
    postApp = JSON.parse(created.stdout);
  });
  afterAll(() => sesame?.stop());

  it('stores the method per app and shows it in `app list --json` (default client_secret_basic)', async () => {
    expect(basicApp.tokenEndpointAuthMethod).toBe('client_secret_basic');
    expect(postApp.tokenEndpointAuthMethod).toBe('client_secret_post');
    const listed = await sesameCli(['app', 'list', '--json'], { cwd: sesame.dir, database: sesame.databaseUrl });
    const apps = JSON.parse(listed.stdout) as { id: string; tokenEndpointAuthMethod: string }[];
    expect(Object.fromEntries(apps.map((app) => [app.id, app.tokenEndpointAuthMethod]))).toEqual({
      [basicApp.id]: 'client_secret_basic',
      [postApp.id]: 'client_secret_post',
    });
  });

  it('a client_secret_basic app is refused with the secret in the body at token, introspection and revocation', async () => {
    const { code, verifier } = await authorizationCode(basicApp, 'basic.user@example.com');

    // The code exchange with the wrong method is refused and leaves the code usable.
    expectWrongMethod(await post('/token', basicApp, 'post', codeGrant(code, verifier)), 'client_secret_basic', 'client_secret_post');
    const tokens = await post('/token', basicApp, 'basic', codeGrant(code, verifier));
    expect(tokens.status).toBe(200);
    const refreshToken = tokens.json.refresh_token as string;
    const accessToken = tokens.json.access_token as string;
    expect(refreshToken).toBeTruthy();

    // Refresh: wrong method refused (and the refresh token is not consumed), registered one works.
    const wrongRefresh = await post('/token', basicApp, 'post', { grant_type: 'refresh_token', refresh_token: refreshToken });
    expectWrongMethod(wrongRefresh, 'client_secret_basic', 'client_secret_post');
    const refreshed = await post('/token', basicApp, 'basic', { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refresh_token).toBeTruthy();

    // Introspection.
    expectWrongMethod(await post('/token/introspection', basicApp, 'post', { token: accessToken }), 'client_secret_basic', 'client_secret_post');
    const introspected = await post('/token/introspection', basicApp, 'basic', { token: accessToken });
    expect(introspected.status).toBe(200);
    expect(introspected.json.active).toBe(true);

    // Revocation.
    const newRefresh = refreshed.json.refresh_token as string;
    expectWrongMethod(await post('/token/revocation', basicApp, 'post', { token: newRefresh }), 'client_secret_basic', 'client_secret_post');
    expect((await post('/token/revocation', basicApp, 'basic', { token: newRefresh })).status).toBe(200);
    expect((await post('/token', basicApp, 'basic', { grant_type: 'refresh_token', refresh_token: newRefresh })).json.error).toBe('invalid_grant');
  });

  it('a client_secret_post app works with post and is refused with basic', async () => {
    const { code, verifier } = await authorizationCode(postApp, 'post.user@example.com');

    expectWrongMethod(await post('/token', postApp, 'basic', codeGrant(code, verifier)), 'client_secret_post', 'client_secret_basic');
    const tokens = await post('/token', postApp, 'post', codeGrant(code, verifier));
    expect(tokens.status).toBe(200);
    const refreshToken = tokens.json.refresh_token as string;

    const wrongRefresh = await post('/token', postApp, 'basic', { grant_type: 'refresh_token', refresh_token: refreshToken });
    expectWrongMethod(wrongRefresh, 'client_secret_post', 'client_secret_basic');
    expect(wrongRefresh.headers.get('www-authenticate')).toMatch(/^Basic /);
    const refreshed = await post('/token', postApp, 'post', { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(refreshed.status).toBe(200);

    const accessToken = refreshed.json.access_token as string;
    expectWrongMethod(await post('/token/introspection', postApp, 'basic', { token: accessToken }), 'client_secret_post', 'client_secret_basic');
    expect((await post('/token/introspection', postApp, 'post', { token: accessToken })).json.active).toBe(true);
    expectWrongMethod(await post('/token/revocation', postApp, 'basic', { token: accessToken }), 'client_secret_post', 'client_secret_basic');
    expect((await post('/token/revocation', postApp, 'post', { token: accessToken })).status).toBe(200);
  });

  it('an openid-client configured with the registered method signs in and refreshes', async () => {
    const config = await client.discovery(new URL(sesame.issuer), postApp.id, undefined, client.ClientSecretPost(postApp.secret), {
      execute: [client.allowInsecureRequests],
    });
    const start = await startAuthorization(config, REDIRECT);
    const callback = await authorizeSignedIn((await signedInBrowser(sesame, 'post.sdk@example.com')).browser, start.url, REDIRECT);
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: start.verifier, expectedState: start.state });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
  });

  it('a wrong secret with the right method is still refused, without naming the method', async () => {
    const result = await post('/token/introspection', { id: basicApp.id, secret: 'wrong' }, 'basic', { token: 'x' });
    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_client');
    expect(result.json.error_description).toBe('client authentication failed');
  });
});

describe('the migration that adds the method', () => {
  it('gives apps registered before it client_secret_basic', async () => {
    const dir = tempDir('sesame-auth-method-');
    try {
      const older = join(dir.path, 'older');
      mkdirSync(older);
      for (const file of readdirSync(join(ROOT, 'migrations/sqlite'))) {
        if (Number(file.slice(0, 4)) < 5) cpSync(join(ROOT, 'migrations/sqlite', file), join(older, file));
      }
      const db = openSqlite(join(dir.path, 'sesame.db'));
      await migrate(db, older);
      await sql`INSERT INTO applications (id, name, type, secret, redirect_uris, post_logout_redirect_uris, is_third_party, created_at)
         VALUES ('old', 'Old App', 'traditional', 's3cret', '["http://a/cb"]', '[]', 0, 1)`.execute(db);
      await migrate(db, join(ROOT, 'migrations/sqlite'));
      expect((await findApplication(db, 'old'))?.tokenEndpointAuthMethod).toBe('client_secret_basic');
      await expect(sql`UPDATE applications SET token_endpoint_auth_method = 'none' WHERE id = 'old'`.execute(db)).rejects.toThrow(/CHECK/);
      await db.destroy();
    } finally {
      dir.remove();
    }
  });
});
