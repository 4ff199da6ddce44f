import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManagementApi } from '@logto/api/management';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { main } from '../../src/cli.ts';

/** Logto's own client, @logto/api, unmodified, against a running Sesame. */
describe('@logto/api createManagementApi against Sesame', () => {
  let sesame: TestSesame;
  let apiClient: ReturnType<typeof createManagementApi>['apiClient'];

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: sesame.databaseUrl,
      ENDPOINT: sesame.config.endpoint,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    sesame = await startTestSesame();
    // What an operator does: create the m2m app and grant it the management API, with the CLI.
    const created = await cli('app', 'create', '--name', 'CI', '--type', 'm2m', '--json');
    expect(created.code, created.err).toBe(0);
    const app = JSON.parse(created.out) as { id: string; secret: string };
    const granted = await cli('app', 'grant-management', app.id);
    expect(granted.code, granted.err).toBe(0);
    ({ apiClient } = createManagementApi('default', { clientId: app.id, clientSecret: app.secret, baseUrl: sesame.url }));
  });
  afterAll(() => sesame?.stop());

  it('creates an app, creates, lists and patches users, creates a resource and reads the logs', async () => {
    const app = await apiClient.POST('/api/applications', {
      body: { name: 'Bookstore', type: 'Traditional', oidcClientMetadata: { redirectUris: ['https://books.example.com/cb'] as never[], postLogoutRedirectUris: [] } },
    });
    expect(app.response.status).toBe(200);
    expect(app.data).toMatchObject({ name: 'Bookstore', type: 'Traditional' });

    const user = await apiClient.POST('/api/users', { body: { primaryEmail: 'reader@example.com', name: 'Reader' } });
    expect(user.response.status).toBe(200);
    const userId = user.data!.id;

    const users = await apiClient.GET('/api/users', { params: { query: { page: 1, page_size: 10 } } });
    expect(users.data!.map((u) => u.primaryEmail)).toEqual(['reader@example.com']);
    expect(users.response.headers.get('total-number')).toBe('1');

    const patched = await apiClient.PATCH('/api/users/{userId}', { params: { path: { userId } }, body: { name: 'Avid Reader' } });
    expect(patched.data!.name).toBe('Avid Reader');
    const custom = await apiClient.PATCH('/api/users/{userId}/custom-data', { params: { path: { userId } }, body: { customData: { plan: 'pro' } } });
    expect(custom.data).toEqual({ plan: 'pro' });

    const resource = await apiClient.POST('/api/resources', { body: { name: 'Books API', indicator: 'https://api.books.example.com' } });
    expect(resource.response.status).toBe(200);
    const scope = await apiClient.POST('/api/resources/{resourceId}/scopes', { params: { path: { resourceId: resource.data!.id } }, body: { name: 'read:books' } });
    expect(scope.response.status).toBe(201);

    const apps = await apiClient.GET('/api/applications');
    expect(apps.data!.map((a) => a.name).sort()).toEqual(['Bookstore', 'CI']);

    const logs = await apiClient.GET('/api/logs', { params: { query: { logKey: 'Management.*' } } });
    const keys = logs.data!.map((log) => log.key);
    expect(keys).toEqual(
      expect.arrayContaining(['Management.Application.Create', 'Management.Application.GrantManagement', 'Management.User.Create', 'Management.User.Update', 'Management.Resource.Create']),
    );
    const grant = logs.data!.find((log) => log.key === 'Management.Application.GrantManagement')!;
    expect((grant.payload as { actor?: string }).actor).toBe('cli');
    const byApi = logs.data!.find((log) => log.key === 'Management.User.Create')!;
    expect((byApi.payload as { actor?: string }).actor).toMatch(/^app:/);
  });

  it('reports 404 for a missing user as Logto does', async () => {
    const missing = await apiClient.GET('/api/users/{userId}', { params: { path: { userId: 'nobody' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ code: 'entity.not_found' });
  });
});
