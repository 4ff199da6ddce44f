import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';

/** The OpenAPI document generated from the route schemas, and the reference page built on it. */
describe('management API: OpenAPI document and reference page', () => {
  let sesame: TestSesame;
  let document: Record<string, any>;

  beforeAll(async () => {
    sesame = await startTestSesame();
    const response = await fetch(`${sesame.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as Record<string, any>;
  });
  afterAll(() => sesame?.stop());

  it('is a valid OpenAPI 3 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toMatch(/^3\./);
  });

  it("documents every route at Logto's paths, with its operation ID, its parameters and the token it needs", () => {
    const operations = Object.entries(document.paths as Record<string, Record<string, { operationId?: string }>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /api/applications ListApplications',
        'POST /api/applications CreateApplication',
        'GET /api/applications/{id} GetApplication',
        'PATCH /api/applications/{id} UpdateApplication',
        'DELETE /api/applications/{id} DeleteApplication',
        'POST /api/applications/{id}/secret RotateApplicationSecret',
        'GET /api/users ListUsers',
        'POST /api/users CreateUser',
        'GET /api/users/{userId} GetUser',
        'PATCH /api/users/{userId} UpdateUser',
        'DELETE /api/users/{userId} DeleteUser',
        'GET /api/users/{userId}/custom-data ListUserCustomData',
        'GET /api/users/{userId}/sessions ListUserSessions',
        'PATCH /api/users/{userId}/custom-data UpdateUserCustomData',
        'PATCH /api/users/{userId}/is-admin UpdateUserIsAdmin',
        'PATCH /api/users/{userId}/is-suspended UpdateUserIsSuspended',
        'DELETE /api/users/{userId}/sessions DeleteUserSessions',
        'GET /api/users/{userId}/mfa-verifications ListUserMfaVerifications',
        'DELETE /api/users/{userId}/mfa-verifications/{verificationId} DeleteUserMfaVerification',
        'GET /api/users/{userId}/passkeys ListUserPasskeys',
        'DELETE /api/users/{userId}/passkeys/{id} DeleteUserPasskey',
        'GET /api/resources ListResources',
        'POST /api/resources CreateResource',
        'GET /api/resources/{id} GetResource',
        'PATCH /api/resources/{id} UpdateResource',
        'DELETE /api/resources/{id} DeleteResource',
        'GET /api/resources/{resourceId}/scopes ListResourceScopes',
        'POST /api/resources/{resourceId}/scopes CreateResourceScope',
        'PATCH /api/resources/{resourceId}/scopes/{scopeId} UpdateResourceScope',
        'DELETE /api/resources/{resourceId}/scopes/{scopeId} DeleteResourceScope',
        'GET /api/sign-in-exp GetSignInExp',
        'PATCH /api/sign-in-exp UpdateSignInExp',
        'GET /api/connectors ListConnectors',
        'POST /api/connectors CreateConnector',
        'GET /api/connectors/{id} GetConnector',
        'GET /api/dashboard/activity GetActivity',
        'GET /api/dashboard/setup GetSetup',
        'PATCH /api/connectors/{id} UpdateConnector',
        'DELETE /api/connectors/{id} DeleteConnector',
        'POST /api/connectors/{factoryId}/test CreateConnectorTest',
        'GET /api/configs/oidc/{keyType} GetOidcKeys',
        'POST /api/configs/oidc/{keyType}/rotate RotateOidcKeys',
        'GET /api/logs ListLogs',
        'GET /api/logs/{id} GetLog',
      ].sort(),
    );
    const listUsers = document.paths['/api/users'].get;
    expect(listUsers.parameters.map((parameter: { name: string; in: string }) => `${parameter.in}:${parameter.name}`).sort()).toEqual(['query:page', 'query:page_size', 'query:search']);
    const createUser = document.paths['/api/users'].post.requestBody.content['application/json'].schema;
    expect(createUser.required).toEqual(['primaryEmail']);
    expect(document.security).toEqual([{ managementApi: ['all'] }]);
    expect(document.components.securitySchemes.managementApi.flows.clientCredentials.tokenUrl).toBe(`${sesame.issuer}/token`);
    expect(document.components.schemas.User.properties.isSuspended).toEqual({ type: 'boolean' });
  });

  it('serves an interactive reference page whose scripts and styles all come from Sesame, under a CSP that allows nothing else', async () => {
    const page = await fetch(`${sesame.url}/api/reference/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      const url = new URL(asset, `${sesame.url}/api/reference/`);
      expect(url.origin, asset).toBe(sesame.url);
      expect((await fetch(url)).status, asset).toBe(200);
    }
    // The initializer loads the document from Sesame too, and calls no online validator.
    const initializer = await (await fetch(`${sesame.url}/api/reference/static/swagger-initializer.js`)).text();
    const code = initializer.split('\n').filter((line) => !line.trim().startsWith('//')).join('\n');
    expect(code).not.toMatch(/https?:\/\//);
    expect(code).toContain("url: resolveUrl('./json')");
    expect(code).toContain('validatorUrl: null');
  });
});
