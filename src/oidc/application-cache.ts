import type { Database } from '../db/database.ts';
import { findApplication, type Application } from '../db/applications.ts';

/** How long a registered application is served from memory before it is read again. */
export const APPLICATION_CACHE_MS = 2000;

const caches = new WeakMap<Database, Map<string, { app: Application; until: number }>>();

/**
 * A registered application, kept for a moment: every token, userinfo and introspection call looks
 * its client up, and so does every sign-in (first-party or not). An unknown id always goes to the
 * database, so a newly registered app works at once; a changed or deleted one is seen within
 * APPLICATION_CACHE_MS, by every instance.
 */
export async function findApplicationCached(db: Database, id: string, at = Date.now()): Promise<Application | undefined> {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  const cached = cache.get(id);
  if (cached && cached.until > at) return cached.app;
  const app = await findApplication(db, id);
  if (!app) {
    cache.delete(id);
    return undefined;
  }
  if (cache.size >= 1000) cache.clear();
  cache.set(id, { app, until: at + APPLICATION_CACHE_MS });
  return app;
}
