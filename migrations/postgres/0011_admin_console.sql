-- PostgreSQL twin of migrations/sqlite/0011_admin_console.sql.
--
-- An administrator is an account with the admin role (`sesame admin add EMAIL`).
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_admins ON users (created_at, id) WHERE is_admin = 1;

-- One signed-in console session, keyed by the SHA-256 of the token in the browser's cookie.
CREATE TABLE console_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
