import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importJWK, SignJWT, generateKeyPair } from 'jose';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { createApplication, deleteApplication, setManagementAccess } from '../../src/management/applications.ts';
import { createResource } from '../../src/management/resources.ts';
import { CLI } from '../../src/management/audit.ts';
import { listServerKeys } from '../../src/db/server-keys.ts';
import type { Application } from '../../src/db/applications.ts';

/** Who may call /api, and who may get a token for it. */
describe('management API: tokens and their refusals', () => {
  let sesame: TestSesame;
  let admin: Application;
  let audience: string;

  async function tokenRequest(app: Pick<Application, 'id' | 'secret'>, params: Record<string, string>, basic = false) {
    const response = await fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(basic && { authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}` }),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...(!basic && { client_id: app.id, client_secret: app.secret }), ...params }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  const call = (authorization: string | undefined, path = '/api/users') =>
    fetch(`${sesame.url}${path}`, { headers: authorization === undefined ? {} : { authorization } });

  async function refused(response: Response, status: 401 | 403) {
    expect(response.status).toBe(status);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe(status === 401 ? 'auth.unauthorized' : 'auth.forbidden');
    expect(JSON.stringify(body)).not.toMatch(/\bat \w|\.ts:\d/); // never a stack trace
    return body.message;
  }

  beforeAll(async () => {
    sesame = await startTestSesame();
    audience = `${sesame.config.endpoint}/api`;
    admin = await createApplication(sesame.db, { name: 'Admin', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, admin.id, true, CLI);
  });
  afterAll(() => sesame?.stop());

  it('answers 401 with WWW-Authenticate without a token, with a malformed header and with a token it did not sign', async () => {
    expect(await refused(await call(undefined), 401)).toContain('Bearer');
    await refused(await call('Basic abc'), 401);
    await refused(await call('Bearer not-a-jwt'), 401);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ scope: 'all', client_id: admin.id })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
      .setIssuer(sesame.issuer)
      .setAudience(audience)
      .setSubject(admin.id)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await refused(await call(`Bearer ${forged}`), 401);
  });

  it('answers 401 for an expired token signed with its own key, and for a token from another issuer', async () => {
    const [stored] = (await listServerKeys(sesame.db, 'signing')).filter((key) => JSON.parse(key.material).alg === 'RS256');
    const jwk = JSON.parse(stored!.material);
    const key = await importJWK(jwk, 'RS256');
    const sign = (issuer: string, exp: number) =>
      new SignJWT({ scope: 'all', client_id: admin.id })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(admin.id)
        .setIssuedAt(exp - 3600)
        .setExpirationTime(exp)
        .sign(key);
    const now = Math.floor(Date.now() / 1000);
    expect(await refused(await call(`Bearer ${await sign(sesame.issuer, now - 60)}`), 401)).toContain('expired');
    await refused(await call(`Bearer ${await sign('https://elsewhere.example.com/oidc', now + 600)}`), 401);
    // The same key, issuer and claims, not expired: accepted (so the two refusals above are about exp and iss).
    expect((await call(`Bearer ${await sign(sesame.issuer, now + 600)}`)).status).toBe(200);
  });

  it('answers 403 for a token for another API, a token without the scope all, and a revoked or deleted app', async () => {
    await createResource(sesame.db, { indicator: 'https://books.example.com', name: 'Books', scopes: ['read'] });
    const other = await tokenRequest(admin, { resource: 'https://books.example.com', scope: 'read' });
    expect(other.status).toBe(200);
    expect(await refused(await call(`Bearer ${other.json.access_token}`), 403)).toContain('another API');

    const noScope = await tokenRequest(admin, { resource: audience });
    expect(noScope.status).toBe(200);
    expect(noScope.json.scope).toBeUndefined();
    expect(await refused(await call(`Bearer ${noScope.json.access_token}`), 403)).toContain('"all"');

    const app = await createApplication(sesame.db, { name: 'Temporary', type: 'machine_to_machine' });
    await setManagementAccess(sesame.db, app.id, true, CLI);
    const issued = await tokenRequest(app, { resource: audience, scope: 'all' });
    expect((await call(`Bearer ${issued.json.access_token}`)).status).toBe(200);
    await setManagementAccess(sesame.db, app.id, false, CLI);
    expect(await refused(await call(`Bearer ${issued.json.access_token}`), 403)).toContain('no longer has access');
    await deleteApplication(sesame.db, app.id, CLI);
    expect(await refused(await call(`Bearer ${issued.json.access_token}`), 401)).toContain('no longer exists');
  });

  it('gives a token for the management API only to a granted m2m app, under both of its names', async () => {
    const ungranted = await createApplication(sesame.db, { name: 'Not granted', type: 'machine_to_machine' });
    const refusedToken = await tokenRequest(ungranted, { resource: audience, scope: 'all' });
    expect(refusedToken.status).toBe(400);
    expect(refusedToken.json.error).toBe('invalid_target');
    expect(refusedToken.json.error_description).toContain(`sesame app grant-management ${ungranted.id}`);

    const logtoName = await tokenRequest(admin, { resource: 'https://default.logto.app/api', scope: 'all' });
    expect(logtoName.status).toBe(200);
    expect(logtoName.json).toMatchObject({ token_type: 'Bearer', scope: 'all', expires_in: 3600 });
    expect((await call(`Bearer ${logtoName.json.access_token}`)).status).toBe(200);

    // No resource: refused with a hint rather than an opaque token nothing accepts.
    const none = await tokenRequest(admin, { scope: 'all' });
    expect(none.status).toBe(400);
    expect(none.json.error_description).toContain(audience);
  });

  it('keeps the registered client authentication method: m2m apps default to client_secret_post, what @logto/api sends', async () => {
    expect(admin.tokenEndpointAuthMethod).toBe('client_secret_post');
    const basic = await tokenRequest(admin, { resource: audience, scope: 'all' }, true);
    expect(basic.status).toBe(401);
    expect(basic.json.error).toBe('invalid_client');
    const basicApp = await createApplication(sesame.db, { name: 'Basic', type: 'machine_to_machine', tokenEndpointAuthMethod: 'client_secret_basic' });
    await setManagementAccess(sesame.db, basicApp.id, true, CLI);
    expect((await tokenRequest(basicApp, { resource: audience, scope: 'all' }, true)).status).toBe(200);
  });

  it('never lets a sign-in flow or a web app get a management token', async () => {
    const web = await sesame.registerApp();
    const byWebApp = await tokenRequest(web, { resource: audience, scope: 'all' }, true);
    expect(byWebApp.status).toBe(400);
    expect(byWebApp.json.error_description).toBe('requested grant type is not allowed for this client');

    const authorize = new URL(`${sesame.issuer}/auth`);
    for (const [name, value] of Object.entries({
      client_id: web.id,
      response_type: 'code',
      redirect_uri: web.redirectUris[0]!,
      scope: 'openid all',
      resource: 'https://default.logto.app/api',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })) authorize.searchParams.set(name, value);
    const response = await fetch(authorize, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '', sesame.url);
    expect(location.searchParams.get('error')).toBe('invalid_target');
    expect(location.searchParams.get('error_description')).toContain('management API');
  });

  it('serves the OpenAPI document and the reference page without a token', async () => {
    expect((await fetch(`${sesame.url}/api/openapi.json`)).status).toBe(200);
    expect((await fetch(`${sesame.url}/api/reference`, { redirect: 'manual' })).status).toBeLessThan(400);
  });

  it('answers unknown /api addresses and bad JSON with JSON errors, never a page or a stack trace', async () => {
    const issued = await tokenRequest(admin, { resource: audience, scope: 'all' });
    const headers = { authorization: `Bearer ${issued.json.access_token}`, 'content-type': 'application/json' };
    const unknown = await fetch(`${sesame.url}/api/organizations`, { headers });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/json');
    expect(((await unknown.json()) as { code: string }).code).toBe('route.not_found');
    const malformed = await fetch(`${sesame.url}/api/users`, { method: 'POST', headers, body: '{"primaryEmail": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toContain('application/json');
    expect(await malformed.text()).not.toMatch(/\.ts:\d|node_modules/);
    const badPage = await fetch(`${sesame.url}/api/users?page=0`, { headers });
    expect(badPage.status).toBe(400);
    expect(await badPage.json()).toMatchObject({ code: 'guard.invalid_input', data: { field: 'query.page' } });
    const hugePage = await fetch(`${sesame.url}/api/users?page_size=1000`, { headers });
    expect(await hugePage.json()).toMatchObject({ data: { field: 'query.page_size' } });
    const unknownField = await fetch(`${sesame.url}/api/users`, { method: 'POST', headers, body: JSON.stringify({ primaryEmail: 'x@example.com', primaryPhone: '+1' }) });
    expect(unknownField.status).toBe(400);
    expect(await unknownField.json()).toMatchObject({ data: { field: 'body.primaryPhone' } });
  });
});
