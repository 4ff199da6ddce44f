import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Session } from 'fastify';
import type { SessionStore } from '@fastify/session';

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

type Callback = (error?: unknown) => void;
type SessionCallback = (error: unknown, session?: Session | null) => void;

interface SessionRow {
  data: string;
  expires_at: number;
}

/**
 * The demo's own SQLite file: its settings (session secret, App ID/Secret) and its server-side
 * sessions. Kept apart from Sesame's database so the demo behaves like any outside app would.
 */
export class DemoStore {
  private lastPurge = 0;

  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly now: () => number,
  ) {}

  static open(file: string, now: () => number = Date.now): DemoStore {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const db = new BetterSqlite3(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS demo_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
    `);
    const store = new DemoStore(db, now);
    store.purgeExpiredSessions();
    return store;
  }

  getSetting(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM demo_settings WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO demo_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  /** Generated once and kept, so a restart does not sign everybody out. */
  sessionSecret(): string {
    let secret = this.getSetting('session_secret');
    if (!secret || secret.length < 32) {
      secret = randomBytes(32).toString('base64url');
      this.setSetting('session_secret', secret);
    }
    return secret;
  }

  purgeExpiredSessions(): number {
    this.lastPurge = this.now();
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(this.now()).changes;
  }

  /** An @fastify/session store over the `sessions` table. */
  sessionStore(): SessionStore {
    return {
      get: (sid: string, callback: SessionCallback) => {
        try {
          const row = this.db.prepare('SELECT data, expires_at FROM sessions WHERE sid = ?').get(sid) as
            | SessionRow
            | undefined;
          if (!row) return callback(null, null);
          if (row.expires_at <= this.now()) {
            this.db.prepare('DELETE FROM sessions WHERE sid = ?').run(sid);
            return callback(null, null);
          }
          callback(null, JSON.parse(row.data) as Session);
        } catch (error) {
          callback(error);
        }
      },
      set: (sid: string, session: Session, callback: Callback) => {
        try {
          this.db
            .prepare(
              'INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?) ' +
                'ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at',
            )
            .run(sid, JSON.stringify(session), this.expiryOf(session));
          if (this.now() - this.lastPurge > PURGE_INTERVAL_MS) this.purgeExpiredSessions();
          callback();
        } catch (error) {
          callback(error);
        }
      },
      destroy: (sid: string, callback: Callback) => {
        try {
          this.db.prepare('DELETE FROM sessions WHERE sid = ?').run(sid);
          callback();
        } catch (error) {
          callback(error);
        }
      },
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private expiryOf(session: Session): number {
    const expires = session.cookie?.expires;
    const at = expires ? new Date(expires).getTime() : Number.NaN;
    return Number.isFinite(at) ? at : this.now() + WEEK_MS;
  }
}
