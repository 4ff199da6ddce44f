-- PostgreSQL twin of migrations/sqlite/0013_passkeys.sql (passkeys and the account page).
--
-- The foreign keys are DEFERRABLE INITIALLY DEFERRED: `sesame db copy` fills tables in name order
-- (account_sessions and passkeys before users) in one transaction, and the check waits for its
-- commit. ON DELETE CASCADE still acts at once when an account is deleted.
CREATE TABLE passkeys (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  credential_id TEXT COLLATE "C" NOT NULL UNIQUE,
  public_key TEXT COLLATE "C" NOT NULL,
  counter BIGINT NOT NULL DEFAULT 0,
  transports TEXT NOT NULL DEFAULT '[]',
  device_type TEXT COLLATE "C" NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up INTEGER NOT NULL DEFAULT 0,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

CREATE TABLE webauthn_challenges (
  id TEXT COLLATE "C" PRIMARY KEY,
  challenge TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C",
  expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);

CREATE TABLE account_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_expires_at ON account_sessions (expires_at);
CREATE INDEX account_sessions_user ON account_sessions (user_id);
