import type { Insertable } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import type { OidcModelInstancesTable } from './schema.ts';

export interface ModelRow {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

export interface ModelRecord {
  model: string;
  id: string;
  payload: string;
  expiresAt: number | null;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  accountId: string | null;
}

/** One upsert for every oidc-provider model; portable ON CONFLICT (SQLite >= 3.24, PostgreSQL). */
const upsert = prepared((db, p: Insertable<OidcModelInstancesTable>) =>
  db
    .insertInto('oidc_model_instances')
    .values({
      model: p.model,
      id: p.id,
      payload: p.payload,
      expires_at: p.expires_at,
      consumed_at: null,
      grant_id: p.grant_id,
      uid: p.uid,
      user_code: p.user_code,
      account_id: p.account_id,
    })
    .onConflict((conflict) =>
      conflict.columns(['model', 'id']).doUpdateSet((eb) => ({
        payload: eb.ref('excluded.payload'),
        expires_at: eb.ref('excluded.expires_at'),
        grant_id: eb.ref('excluded.grant_id'),
        uid: eb.ref('excluded.uid'),
        user_code: eb.ref('excluded.user_code'),
        account_id: eb.ref('excluded.account_id'),
      })),
    ),
);

export async function upsertModel(db: Queryable, record: ModelRecord): Promise<void> {
  await upsert(db, {
    model: record.model,
    id: record.id,
    payload: record.payload,
    expires_at: record.expiresAt,
    grant_id: record.grantId,
    uid: record.uid,
    user_code: record.userCode,
    account_id: record.accountId,
  });
}

const selectModel = (db: Queryable) => db.selectFrom('oidc_model_instances').select(['payload', 'expires_at', 'consumed_at']);
const byId = prepared((db, p: { model: string; id: string }) => selectModel(db).where('model', '=', p.model).where('id', '=', p.id));
const byUid = prepared((db, p: { model: string; uid: string }) => selectModel(db).where('model', '=', p.model).where('uid', '=', p.uid));

export async function findModel(db: Queryable, model: string, id: string): Promise<ModelRow | undefined> {
  return (await byId(db, { model, id })).rows[0];
}

export async function findModelByUid(db: Queryable, model: string, uid: string): Promise<ModelRow | undefined> {
  return (await byUid(db, { model, uid })).rows[0];
}

export function findModelByUserCode(db: Queryable, model: string, userCode: string): Promise<ModelRow | undefined> {
  return selectModel(db).where('model', '=', model).where('user_code', '=', userCode).executeTakeFirst();
}

const consume = prepared((db, p: { model: string; id: string; at: number }) =>
  db
    .updateTable('oidc_model_instances')
    .set({ consumed_at: p.at })
    .where('model', '=', p.model)
    .where('id', '=', p.id)
    .where('consumed_at', 'is', null),
);

export async function consumeModel(db: Queryable, model: string, id: string, at: number): Promise<void> {
  await consume(db, { model, id, at });
}

// RETURNING: its answer says whether this statement was the one that used the row (and so it is
// never sent ahead: write-ahead.ts).
const consumeOnce = prepared((db, p: { model: string; id: string; at: number }) =>
  db
    .updateTable('oidc_model_instances')
    .set({ consumed_at: p.at })
    .where('model', '=', p.model)
    .where('id', '=', p.id)
    .where('consumed_at', 'is', null)
    .returning('grant_id'),
);

/** consumeModel that tells whether this call used the row: false when it was used already (or is gone). */
export async function consumeModelOnce(db: Queryable, model: string, id: string, at: number): Promise<boolean> {
  return (await consumeOnce(db, { model, id, at })).rows.length === 1;
}

const destroy = prepared((db, p: { model: string; id: string }) =>
  db.deleteFrom('oidc_model_instances').where('model', '=', p.model).where('id', '=', p.id),
);

export async function destroyModel(db: Queryable, model: string, id: string): Promise<void> {
  await destroy(db, { model, id });
}

/** Revoking a grant removes every token of every model issued under it. */
export async function destroyModelsByGrantId(db: Queryable, grantId: string): Promise<void> {
  await db.deleteFrom('oidc_model_instances').where('grant_id', '=', grantId).execute();
}

export async function purgeExpiredModels(db: Queryable, now: number): Promise<number> {
  const result = await db
    .deleteFrom('oidc_model_instances')
    .where('expires_at', 'is not', null)
    .where('expires_at', '<', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Every session, grant and token of one account (after a password reset). Interactions are kept. */
export async function destroyModelsByAccountId(db: Queryable, accountId: string): Promise<number> {
  const result = await db
    .deleteFrom('oidc_model_instances')
    .where('account_id', '=', accountId)
    .where('model', '<>', 'Interaction')
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** One stored oidc-provider model of an account, for listing what it holds (sessions, refresh tokens). */
export interface AccountModelRow {
  model: string;
  id: string;
  payload: string;
  expiresAt: number | null;
}

/** The account's stored models of the given kinds (its sessions, its refresh tokens), unconsumed and unexpired. */
export async function listModelsOfAccount(db: Queryable, accountId: string, models: string[], now: number): Promise<AccountModelRow[]> {
  const rows = await db
    .selectFrom('oidc_model_instances')
    .select(['model', 'id', 'payload', 'expires_at'])
    .where('account_id', '=', accountId)
    .where('model', 'in', models)
    .where('consumed_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
  return rows.map((row) => ({ model: row.model, id: row.id, payload: row.payload, expiresAt: row.expires_at === null ? null : Number(row.expires_at) }));
}
