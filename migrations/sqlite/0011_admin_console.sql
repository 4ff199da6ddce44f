-- The admin console (issue 15).
--
-- An administrator is an account with the admin role: it may sign in to the console at
-- ${ENDPOINT}/console, and the console's management API tokens are issued only for it. A flag on the
-- account rather than a role table: Sesame has one role, and the flag goes with the account when it
-- is deleted. Granted by `sesame admin add EMAIL` or PATCH /api/users/{userId}/is-admin.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
-- `sesame admin list` and the first-start hint ("no administrator yet") read only the few admins.
CREATE INDEX users_admins ON users (created_at, id) WHERE is_admin = 1;

-- One signed-in console session (src/console/session.ts). The browser holds a random token in a
-- signed cookie; the row is keyed by the token's SHA-256, so a copy of this table opens no session.
-- Rows live in the database (not in memory) so a session survives a restart and works on every
-- instance. `data` is a JSON object: the administrator's management API tokens and a one-time notice.
-- `expires_at` is the absolute end; `last_seen_at` + the idle timeout is the other.
CREATE TABLE console_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
