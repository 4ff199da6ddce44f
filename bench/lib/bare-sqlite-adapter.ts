import Database from 'better-sqlite3';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

/**
 * A durable adapter for the bare provider (bare-provider.ts with BARE_DATABASE): what a developer
 * would write first to keep oidc-provider's models across restarts and share them between processes.
 * One SQLite table in WAL mode with synchronous=NORMAL (as Sesame's), the payload as JSON, the
 * lookups oidc-provider makes indexed, each call one autocommit statement (no grouping of commits,
 * no caches). Clients stay in the configuration, as the in-memory ceiling has them.
 */
export function sqliteAdapter(file: string): AdapterFactory {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS models (
      model TEXT NOT NULL,
      id TEXT NOT NULL,
      payload TEXT NOT NULL,
      grant_id TEXT,
      uid TEXT,
      user_code TEXT,
      expires_at INTEGER,
      consumed_at INTEGER,
      PRIMARY KEY (model, id)
    );
    CREATE INDEX IF NOT EXISTS models_grant_id ON models (grant_id) WHERE grant_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS models_uid ON models (model, uid) WHERE uid IS NOT NULL;
    CREATE INDEX IF NOT EXISTS models_user_code ON models (model, user_code) WHERE user_code IS NOT NULL;
  `);
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO models (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
  );
  const byId = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND id = ?');
  const byUid = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND uid = ?');
  const byUserCode = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND user_code = ?');
  const consume = db.prepare('UPDATE models SET consumed_at = ? WHERE model = ? AND id = ?');
  const destroy = db.prepare('DELETE FROM models WHERE model = ? AND id = ?');
  const revoke = db.prepare('DELETE FROM models WHERE grant_id = ?');

  type Row = { payload: string; expires_at: number | null; consumed_at: number | null };
  const payloadOf = (row: Row | undefined): AdapterPayload | undefined => {
    if (!row || (row.expires_at !== null && row.expires_at <= Date.now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
  };

  return (model: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : null;
      upsert.run(model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt);
    },
    async find(id) {
      return payloadOf(byId.get(model, id) as Row | undefined);
    },
    async findByUid(uid) {
      return payloadOf(byUid.get(model, uid) as Row | undefined);
    },
    async findByUserCode(userCode) {
      return payloadOf(byUserCode.get(model, userCode) as Row | undefined);
    },
    async consume(id) {
      consume.run(Date.now(), model, id);
    },
    async destroy(id) {
      destroy.run(model, id);
    },
    async revokeByGrantId(grantId) {
      revoke.run(grantId);
    },
  });
}
