import type { Queryable } from './database.ts';

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
export async function upsertModel(db: Queryable, record: ModelRecord): Promise<void> {
  await db.run(
    `INSERT INTO oidc_model_instances (model, id, payload, expires_at, consumed_at, grant_id, uid, user_code, account_id)
     VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
     ON CONFLICT (model, id) DO UPDATE SET
       payload = excluded.payload, expires_at = excluded.expires_at, grant_id = excluded.grant_id,
       uid = excluded.uid, user_code = excluded.user_code, account_id = excluded.account_id`,
    [record.model, record.id, record.payload, record.expiresAt, record.grantId, record.uid, record.userCode, record.accountId],
  );
}

const SELECT = 'SELECT payload, expires_at, consumed_at FROM oidc_model_instances';

export function findModel(db: Queryable, model: string, id: string): Promise<ModelRow | undefined> {
  return db.get<ModelRow>(`${SELECT} WHERE model = ? AND id = ?`, [model, id]);
}

export function findModelByUid(db: Queryable, model: string, uid: string): Promise<ModelRow | undefined> {
  return db.get<ModelRow>(`${SELECT} WHERE model = ? AND uid = ?`, [model, uid]);
}

export function findModelByUserCode(db: Queryable, model: string, userCode: string): Promise<ModelRow | undefined> {
  return db.get<ModelRow>(`${SELECT} WHERE model = ? AND user_code = ?`, [model, userCode]);
}

export async function consumeModel(db: Queryable, model: string, id: string, at: number): Promise<void> {
  await db.run('UPDATE oidc_model_instances SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL', [
    at,
    model,
    id,
  ]);
}

export async function destroyModel(db: Queryable, model: string, id: string): Promise<void> {
  await db.run('DELETE FROM oidc_model_instances WHERE model = ? AND id = ?', [model, id]);
}

/** Revoking a grant removes every token of every model issued under it. */
export async function destroyModelsByGrantId(db: Queryable, grantId: string): Promise<void> {
  await db.run('DELETE FROM oidc_model_instances WHERE grant_id = ?', [grantId]);
}

export async function purgeExpiredModels(db: Queryable, now: number): Promise<number> {
  return (await db.run('DELETE FROM oidc_model_instances WHERE expires_at IS NOT NULL AND expires_at < ?', [now])).changes;
}

/** Every session, grant and token of one account (after a password reset). Interactions are kept. */
export async function destroyModelsByAccountId(db: Queryable, accountId: string): Promise<number> {
  return (await db.run("DELETE FROM oidc_model_instances WHERE account_id = ? AND model <> 'Interaction'", [accountId])).changes;
}
