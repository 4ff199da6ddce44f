import type { Database } from '../db/database.ts';
import { deleteApplication, findApplication, type Application } from '../db/applications.ts';
import { createApplication } from '../management/applications.ts';
import type { DemoStore } from './store.ts';

export const DEMO_APP_NAME = 'Bookstore (demo)';

export function demoRedirectUris(baseUrl: string): { callback: string; home: string } {
  const base = trimTrailingSlash(baseUrl);
  return { callback: `${base}/callback`, home: `${base}/` };
}

function fits(app: Application, secret: string, baseUrl: string): boolean {
  const { callback, home } = demoRedirectUris(baseUrl);
  return app.secret === secret && app.redirectUris.includes(callback) && app.postLogoutRedirectUris.includes(home);
}

/**
 * Registers the demo with Sesame exactly as `sesame app create` would, once, and keeps the App ID
 * and Secret in the demo's own file. A registration that was deleted, or that no longer matches
 * baseUrl, is replaced, so the demo always signs in with a client Sesame knows.
 */
export async function ensureDemoRegistration(
  sesameDb: Database,
  store: DemoStore,
  baseUrl: string,
): Promise<{ clientId: string; clientSecret: string }> {
  const storedId = store.getSetting('client_id');
  const storedSecret = store.getSetting('client_secret');
  if (storedId && storedSecret) {
    const existing = await findApplication(sesameDb, storedId);
    if (existing && fits(existing, storedSecret, baseUrl)) return { clientId: storedId, clientSecret: storedSecret };
    // A stale registration of ours (baseUrl moved) would only clutter `sesame app list`.
    if (existing && existing.name === DEMO_APP_NAME) await deleteApplication(sesameDb, existing.id);
  }
  const { callback, home } = demoRedirectUris(baseUrl);
  const app = await createApplication(sesameDb, {
    name: DEMO_APP_NAME,
    type: 'traditional',
    redirectUris: [callback],
    postLogoutRedirectUris: [home],
  });
  store.setSetting('client_id', app.id);
  store.setSetting('client_secret', app.secret);
  return { clientId: app.id, clientSecret: app.secret };
}

export function trimTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
