import type Provider from 'oidc-provider';
import { errors, type Adapter, type AdapterFactory, type AdapterPayload } from 'oidc-provider';
import type { Database, Queryable } from '../db/database.ts';
import type { Application } from '../db/applications.ts';
import { findApplicationCached } from './application-cache.ts';
import {
  consumeModel,
  consumeModelOnce,
  destroyModel,
  destroyModelsByGrantId,
  findModel,
  findModelByUid,
  findModelByUserCode,
  upsertModel,
  type ModelRow,
} from '../db/oidc-models.ts';
import { flushHeldWrites, writeOrHold, type Undoing } from './request-writes.ts';

/** How a registered application looks to oidc-provider. */
function clientMetadata(app: Application): AdapterPayload {
  // A machine-to-machine app only ever uses client_credentials: no sign-in, no redirects.
  const machine = app.type === 'machine_to_machine';
  return {
    client_id: app.id,
    client_secret: app.secret,
    client_name: app.name,
    redirect_uris: machine ? [] : app.redirectUris,
    post_logout_redirect_uris: machine ? [] : app.postLogoutRedirectUris,
    grant_types: machine ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    response_types: machine ? [] : ['code'],
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
 * Clients are the registered applications, served from findApplicationCached (a newly registered app
 * works at once, a changed or deleted one within APPLICATION_CACHE_MS). The metadata made from an
 * application is kept with it, so a cached application is not turned into metadata again.
 */
function clientAdapter(db: Database): Adapter {
  const made = new WeakMap<Application, AdapterPayload>();
  const nothing = async () => undefined;
  return {
    async upsert() {
      throw new Error('clients are registered with `sesame app create`, not through the OIDC adapter');
    },
    async find(id) {
      const app = await findApplicationCached(db, id);
      if (!app) return undefined;
      let metadata = made.get(app);
      if (!metadata) {
        // Frozen: the same object is handed out again, so nothing may change it in between.
        metadata = Object.freeze(clientMetadata(app));
        for (const value of Object.values(metadata)) if (Array.isArray(value)) Object.freeze(value);
        made.set(app, metadata);
      }
      return metadata;
    },
    findByUid: nothing,
    findByUserCode: nothing,
    consume: nothing,
    destroy: nothing,
    revokeByGrantId: nothing,
  };
}

/**
 * oidc-provider's Client.find turns the adapter's metadata into a Client through a cache keyed by a
 * SHA-256 of the metadata's JSON, computed on every lookup: some 20 µs per token, userinfo or
 * introspection call, and per sign-in several times, where bare oidc-provider's static clients need a
 * Map lookup. The client adapter hands out the same frozen metadata object for as long as an
 * application stays cached, so the Client made from it is kept by that object: a changed application
 * comes with new metadata, and so with a new Client, exactly when the adapter would see it.
 */
export function findClientsByMetadata(provider: Provider, adapter: AdapterFactory): void {
  const Client = provider.Client;
  const find = Client.find.bind(Client);
  const clients = adapter('Client');
  const made = new WeakMap<AdapterPayload, Awaited<ReturnType<typeof find>>>();
  Client.find = async (id: string) => {
    const metadata = typeof id === 'string' && id.length > 0 ? await clients.find(id) : undefined;
    if (!metadata) return find(id);
    const known = made.get(metadata);
    if (known) return known;
    const client = await find(id);
    if (client) made.set(metadata, client);
    return client;
  };
}

/**
 * Models a token request uses up that must be used exactly once (RFC 6749 4.1.2), even by two
 * requests at once on two instances: both read it unused, so oidc-provider's own check lets both
 * through, and only the write can tell. A refresh token is not among them: two refreshes at once
 * (two tabs of one app) both succeed, as with Logto, and its reuse after the rotation's commit is
 * refused by oidc-provider, which then revokes the grant.
 */
const SINGLE_USE = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * The use of a single-use model, as a held write: when another request used it first, the request's
 * writes are undone whole (no tokens stored), the client gets invalid_grant, and, as oidc-provider does
 * for a reuse it sees, everything issued under the grant is revoked (RFC 6749 4.1.2: the code may be stolen).
 */
function consumeOnce(model: string, id: string, at: number) {
  return async (q: Queryable): Promise<void> => {
    if (!(await consumeModelOnce(q, model, id, at))) throw new UsedMeanwhile(model, id);
  };
}

class UsedMeanwhile extends errors.InvalidGrant implements Undoing {
  constructor(
    private readonly model: string,
    private readonly id: string,
  ) {
    super(`${model} already consumed (by a request at the same time)`);
  }

  async afterUndo(db: Database): Promise<void> {
    const row = await findModel(db, this.model, this.id);
    const grantId = row && (JSON.parse(row.payload) as AdapterPayload).grantId;
    if (!grantId) return;
    await db.transaction().execute(async (tx) => {
      await destroyModelsByGrantId(tx, grantId);
      await destroyModel(tx, 'Grant', grantId);
    });
  }
}

/**
 * Models that are sign-in progress (src/db/transient.ts): lost in a crash of the database server, they
 * cost a sign-in started again, or the browser signing in once more. Grants and tokens, which apps hold
 * on to, are not among them.
 */
const TRANSIENT = new Set(['Interaction', 'Session', 'AuthorizationCode', 'PushedAuthorizationRequest', 'ReplayDetection']);

/** One oidc-provider model (Session, Grant, AccessToken, ...) in oidc_model_instances. */
function modelAdapter(db: Database, model: string, now: () => number): Adapter {
  const transient = TRANSIENT.has(model);
  const row = (id: string) => ({ transient, touches: { model, id } });
  const toPayload = (row: ModelRow | undefined): AdapterPayload | undefined => {
    if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000);
    return payload;
  };
  // Writes wait for the end of an oidc-provider request (request-writes.ts); a read that may see one
  // of them (the same row, or any row of the model for findByUid and findByUserCode) makes them first.
  const read = (find: () => Promise<ModelRow | undefined>, id?: string): Promise<AdapterPayload | undefined> => {
    const flushing = flushHeldWrites({ model, id });
    return (flushing ? flushing.then(find) : find()).then(toPayload);
  };
  return {
    async upsert(id, payload, expiresIn) {
      const record = {
        model,
        id,
        payload: JSON.stringify(payload),
        expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        // Lets a password reset end every session and token of the account (destroyModelsByAccountId).
        accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
      };
      await writeOrHold(db, (q) => upsertModel(q, record), row(id));
    },
    find: (id) => read(() => findModel(db, model, id), id),
    findByUid: (uid) => read(() => findModelByUid(db, model, uid)),
    findByUserCode: (userCode) => read(() => findModelByUserCode(db, model, userCode)),
    // Held with the request's other writes: its tokens and the use of what they were issued for are
    // stored in one commit, before the answer leaves. A reuse that comes after that commit is told
    // apart by oidc-provider when it reads the model (consumed); see SINGLE_USE for one that comes before.
    consume: (id) => writeOrHold(db, SINGLE_USE.has(model) ? consumeOnce(model, id, now()) : (q) => consumeModel(q, model, id, now()), row(id)),
    destroy: (id) => writeOrHold(db, (q) => destroyModel(q, model, id), row(id)),
    // Every model issued under the grant: any read waits for it.
    revokeByGrantId: (grantId) => writeOrHold(db, (q) => destroyModelsByGrantId(q, grantId)),
  };
}
