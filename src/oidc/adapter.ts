import type { Adapter, AdapterPayload } from 'oidc-provider';
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

export const CLIENT_CACHE_MS = 2000;

/** How a registered application looks to oidc-provider. */
export function clientMetadata(app: Application): AdapterPayload {
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
 * Clients are read from the applications table on every lookup, so an app registered while the
 * server runs works at once; every other model is a row in oidc_model_instances.
 */
export function createAdapterFactory(db: Database, now: () => number = Date.now) {
  function toPayload(row: ModelRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000);
    return payload;
  }

  // Every token, userinfo and introspection call looks its client up. Known clients are kept for a
  // moment; an unknown id always goes to the database, so a newly registered app works at once and
  // a deleted one stops within CLIENT_CACHE_MS.
  const clients = new Map<string, { metadata: AdapterPayload; until: number }>();

  class ClientAdapter implements Adapter {
    async upsert(): Promise<void> {
      throw new Error('clients are registered with `sesame app create`, not through the OIDC adapter');
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      const at = Date.now();
      const cached = clients.get(id);
      if (cached && cached.until > at) return cached.metadata;
      const app = await findApplication(db, id);
      if (!app) {
        clients.delete(id);
        return undefined;
      }
      // Frozen: the same object is handed out again, so nothing may change it in between.
      const metadata = Object.freeze(clientMetadata(app));
      for (const value of Object.values(metadata)) if (Array.isArray(value)) Object.freeze(value);
      if (clients.size >= 1000) clients.clear();
      clients.set(id, { metadata, until: at + CLIENT_CACHE_MS });
      return metadata;
    }
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }
    async findByUid(): Promise<undefined> {
      return undefined;
    }
    async consume(): Promise<void> {}
    async destroy(): Promise<void> {}
    async revokeByGrantId(): Promise<void> {}
  }

  class ModelAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await upsertModel(db, {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
      });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return toPayload(await findModel(db, this.model, id));
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(await findModelByUid(db, this.model, uid));
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(await findModelByUserCode(db, this.model, userCode));
    }
    async consume(id: string): Promise<void> {
      await consumeModel(db, this.model, id, now());
    }
    async destroy(id: string): Promise<void> {
      await destroyModel(db, this.model, id);
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      await destroyModelsByGrantId(db, grantId);
    }
  }

  return class SesameAdapter implements Adapter {
    private readonly inner: Adapter;
    constructor(model: string) {
      this.inner = model === 'Client' ? new ClientAdapter() : new ModelAdapter(model);
    }
    upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      return this.inner.upsert(id, payload, expiresIn);
    }
    find(id: string) {
      return this.inner.find(id);
    }
    findByUid(uid: string) {
      return this.inner.findByUid(uid);
    }
    findByUserCode(userCode: string) {
      return this.inner.findByUserCode(userCode);
    }
    consume(id: string) {
      return this.inner.consume(id);
    }
    destroy(id: string) {
      return this.inner.destroy(id);
    }
    revokeByGrantId(grantId: string) {
      return this.inner.revokeByGrantId(grantId);
    }
  };
}
