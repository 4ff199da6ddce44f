import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { Database } from '../db/database.ts';
import { findApplication, type Application } from '../db/applications.ts';
import {
  consumeModel,
  destroyModel,
  destroyModelsByGrantId,
  findModel,
  findModelByUid,
  findModelByUserCode,
  upsertModel,
  type ModelRow,
} from '../db/oidc-models.ts';

const CLIENT_CACHE_MS = 2000;

/** How a registered application looks to oidc-provider. */
function clientMetadata(app: Application): AdapterPayload {
  return {
    client_id: app.id,
    client_secret: app.secret,
    client_name: app.name,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // Enforced strictly (oidc-provider alone would accept basic and post interchangeably): see
    // client-auth.ts.
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
  };
}

/**
 * oidc-provider's `adapter` as a factory `(model) => adapter`, like its own memory adapter.
 * Clients are read from the applications table, so an app registered while the server runs works at
 * once; every other model is a row in oidc_model_instances.
 */
export function createAdapterFactory(db: Database, now: () => number = Date.now): AdapterFactory {
  const clients = clientAdapter(db);
  // An arrow function: oidc-provider calls it, where a constructable function would be `new`ed.
  return (model) => (model === 'Client' ? clients : modelAdapter(db, model, now));
}

/**
 * Every token, userinfo and introspection call looks its client up. Known clients are kept for a
 * moment; an unknown id always goes to the database, so a newly registered app works at once and a
 * deleted one stops within CLIENT_CACHE_MS.
 */
function clientAdapter(db: Database): Adapter {
  const cache = new Map<string, { metadata: AdapterPayload; until: number }>();
  const nothing = async () => undefined;
  return {
    async upsert() {
      throw new Error('clients are registered with `sesame app create`, not through the OIDC adapter');
    },
    async find(id) {
      const at = Date.now();
      const cached = cache.get(id);
      if (cached && cached.until > at) return cached.metadata;
      const app = await findApplication(db, id);
      if (!app) {
        cache.delete(id);
        return undefined;
      }
      // Frozen: the same object is handed out again, so nothing may change it in between.
      const metadata = Object.freeze(clientMetadata(app));
      for (const value of Object.values(metadata)) if (Array.isArray(value)) Object.freeze(value);
      if (cache.size >= 1000) cache.clear();
      cache.set(id, { metadata, until: at + CLIENT_CACHE_MS });
      return metadata;
    },
    findByUid: nothing,
    findByUserCode: nothing,
    consume: nothing,
    destroy: nothing,
    revokeByGrantId: nothing,
  };
}

/** One oidc-provider model (Session, Grant, AccessToken, ...) in oidc_model_instances. */
function modelAdapter(db: Database, model: string, now: () => number): Adapter {
  const toPayload = (row: ModelRow | undefined): AdapterPayload | undefined => {
    if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000);
    return payload;
  };
  return {
    async upsert(id, payload, expiresIn) {
      await upsertModel(db, {
        model,
        id,
        payload: JSON.stringify(payload),
        expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        // Lets a password reset end every session and token of the account (destroyModelsByAccountId).
        accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
      });
    },
    find: async (id) => toPayload(await findModel(db, model, id)),
    findByUid: async (uid) => toPayload(await findModelByUid(db, model, uid)),
    findByUserCode: async (userCode) => toPayload(await findModelByUserCode(db, model, userCode)),
    consume: (id) => consumeModel(db, model, id, now()),
    destroy: (id) => destroyModel(db, model, id),
    revokeByGrantId: (grantId) => destroyModelsByGrantId(db, grantId),
  };
}
