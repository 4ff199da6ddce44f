import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';

/** Opens the server's database file alongside the running server (WAL lets both write). */
export function openDb(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file);
  db.pragma('busy_timeout = 10000');
  return db;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Ids shaped like Sesame's randomId (lower-case alphanumeric), from one random buffer for speed. */
function randomIds(count: number, length: number): string[] {
  const bytes = randomBytes(count * length);
  const ids: string[] = new Array(count);
  for (let i = 0; i < count; i += 1) {
    let id = '';
    for (let j = 0; j < length; j += 1) id += ALPHABET[bytes[i * length + j]! % 36];
    ids[i] = id;
  }
  return ids;
}

export const seededEmail = (index: number) => `seed-${index}@example.com`;

/** Inserts users seed-<from>..seed-<to-1>@example.com in one transaction; returns seconds taken. */
export function seedUsers(file: string, from: number, to: number): number {
  const started = performance.now();
  const db = openDb(file);
  try {
    const insert = db.prepare(
      `INSERT INTO users (id, email, email_verified, name, username, password_hash, custom_data, created_at, updated_at, last_sign_in_at)
       VALUES (?, ?, 1, NULL, NULL, NULL, '{}', ?, ?, ?)`,
    );
    const now = Date.now();
    db.transaction(() => {
      const batch = 50_000;
      for (let start = from; start < to; start += batch) {
        const end = Math.min(to, start + batch);
        const ids = randomIds(end - start, 12);
        for (let i = start; i < end; i += 1) insert.run(ids[i - start]!, seededEmail(i), now, now, now);
      }
    })();
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}

/** Database size in bytes after folding the WAL back into the main file. */
export function databaseBytes(file: string): number {
  const db = openDb(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * size;
  } finally {
    db.close();
  }
}

export function countRows(file: string, sql: string): number {
  const db = openDb(file);
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * Tops the stored refresh tokens up to `target` by copying a real RefreshToken row under fresh
 * ids: issuing 100,000 through HTTP would take minutes and measure the same storage.
 */
export function seedRefreshTokens(file: string, target: number): { seeded: number; total: number } {
  const db = openDb(file);
  try {
    const count = (db.prepare("SELECT COUNT(*) AS n FROM oidc_model_instances WHERE model = 'RefreshToken'").get() as { n: number }).n;
    const missing = target - count;
    if (missing <= 0) return { seeded: 0, total: count };
    const template = db
      .prepare("SELECT payload, expires_at, grant_id FROM oidc_model_instances WHERE model = 'RefreshToken' ORDER BY rowid DESC LIMIT 1")
      .get() as { payload: string; expires_at: number; grant_id: string } | undefined;
    if (!template) throw new Error('no refresh token to copy');
    const payload = JSON.parse(template.payload) as Record<string, unknown>;
    delete payload.consumed;
    const insert = db.prepare(
      `INSERT INTO oidc_model_instances (model, id, payload, expires_at, consumed_at, grant_id, uid, user_code)
       VALUES ('RefreshToken', ?, ?, ?, NULL, ?, NULL, NULL)`,
    );
    db.transaction(() => {
      const ids = randomIds(missing, 43);
      for (const id of ids) insert.run(id, JSON.stringify({ ...payload, jti: id }), template.expires_at, template.grant_id);
    })();
    return { seeded: missing, total: target };
  } finally {
    db.close();
  }
}

/** Sesame's signing keys (private JWKs, RS256 first) so the bare provider signs with the same ones. */
export function signingJwks(file: string): { keys: Array<Record<string, string>> } {
  const db = openDb(file);
  try {
    const rows = db
      .prepare("SELECT material FROM server_keys WHERE purpose = 'signing' AND retired_at IS NULL ORDER BY created_at DESC, id DESC")
      .all() as Array<{ material: string }>;
    const keys = rows.map((row) => JSON.parse(row.material) as Record<string, string>);
    keys.sort((a, b) => (a.alg === 'RS256' ? -1 : b.alg === 'RS256' ? 1 : 0));
    return { keys };
  } finally {
    db.close();
  }
}
