import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteApplication, updateApplication } from '../../src/db/applications.ts';
import { APPLICATION_CACHE_MS } from '../../src/oidc/application-cache.ts';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';

/**
 * provider.Client.find keeps the Client it made from an application for as long as the application
 * stays cached (src/oidc/adapter.ts, findClientsByMetadata), instead of hashing its metadata on every
 * lookup; a changed or deleted application must still be seen when the cache would see it.
 */
describe('client lookups', () => {
  let sesame: TestSesame;
  beforeAll(async () => {
    sesame = await startTestSesame();
  });
  afterAll(() => sesame?.stop());
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('hands out the same Client while the application is unchanged, and a new one once a change is seen', async () => {
    const app = await sesame.registerApp({ redirectUris: ['http://127.0.0.1:9/first'] });
    const first = await sesame.provider.Client.find(app.id);
    expect(first?.redirectUris).toEqual(['http://127.0.0.1:9/first']);
    expect(await sesame.provider.Client.find(app.id)).toBe(first);

    await updateApplication(sesame.db, app.id, { redirectUris: ['http://127.0.0.1:9/second'], name: 'Renamed' });
    await wait(APPLICATION_CACHE_MS + 100);
    const changed = await sesame.provider.Client.find(app.id);
    expect(changed).not.toBe(first);
    expect(changed?.redirectUris).toEqual(['http://127.0.0.1:9/second']);
    expect(changed?.clientName).toBe('Renamed');
    expect(await sesame.provider.Client.find(app.id)).toBe(changed);

    await deleteApplication(sesame.db, app.id);
    await wait(APPLICATION_CACHE_MS + 100);
    expect(await sesame.provider.Client.find(app.id)).toBeUndefined();
  });

  it('finds nothing for an unknown or empty id', async () => {
    expect(await sesame.provider.Client.find('no-such-app')).toBeUndefined();
    expect(await sesame.provider.Client.find('')).toBeUndefined();
  });

  it('authenticates with the secret the application has now', async () => {
    const app = await sesame.registerApp({ type: 'machine_to_machine', redirectUris: [], postLogoutRedirectUris: [], tokenEndpointAuthMethod: 'client_secret_basic' });
    const token = (secret: string) =>
      fetch(`${sesame.issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
    const before = await token(app.secret);
    expect(before.status, await before.clone().text()).not.toBe(401);
    await updateApplication(sesame.db, app.id, { secret: 'a-new-secret-of-enough-length-0123456789' });
    await wait(APPLICATION_CACHE_MS + 100);
    expect((await token(app.secret)).status).toBe(401);
    expect((await token('a-new-secret-of-enough-length-0123456789')).status).not.toBe(401);
  });
});
