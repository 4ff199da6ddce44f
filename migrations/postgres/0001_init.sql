-- PostgreSQL twin of migrations/sqlite/0001_init.sql: same tables, columns, nullability, defaults,
-- keys and index names, so the same queries run on both engines. Translation rules for every file:
-- - epoch milliseconds are BIGINT (Sesame's pg pool parses int8 into a JS number);
-- - flags stay INTEGER 0/1 as on SQLite (the query code compares them with 1), never BOOLEAN;
-- - JSON documents stay TEXT, as on SQLite (the code stringifies and parses them itself);
-- - every TEXT column is COLLATE "C": byte order, as SQLite's BINARY, so ORDER BY id and range
--   comparisons give the same answers whatever locale the database was created with.

-- Relying-party applications registered with `sesame app create`.
CREATE TABLE applications (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL,
  type TEXT COLLATE "C" NOT NULL,
  secret TEXT COLLATE "C" NOT NULL,
  redirect_uris TEXT COLLATE "C" NOT NULL,
  post_logout_redirect_uris TEXT COLLATE "C" NOT NULL,
  is_third_party INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

-- Every oidc-provider model (sessions, grants, codes, tokens, interactions...) lives here.
CREATE TABLE oidc_model_instances (
  model TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  payload TEXT COLLATE "C" NOT NULL,
  expires_at BIGINT,
  consumed_at BIGINT,
  grant_id TEXT COLLATE "C",
  uid TEXT COLLATE "C",
  user_code TEXT COLLATE "C",
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_model_instances_grant_id ON oidc_model_instances (grant_id);
CREATE INDEX oidc_model_instances_uid ON oidc_model_instances (model, uid);
CREATE INDEX oidc_model_instances_user_code ON oidc_model_instances (model, user_code);
CREATE INDEX oidc_model_instances_expires_at ON oidc_model_instances (expires_at);

CREATE TABLE users (
  id TEXT COLLATE "C" PRIMARY KEY,
  email TEXT COLLATE "C" NOT NULL UNIQUE,
  email_verified INTEGER NOT NULL DEFAULT 0,
  name TEXT COLLATE "C",
  username TEXT COLLATE "C" UNIQUE,
  password_hash TEXT COLLATE "C",
  custom_data TEXT COLLATE "C" NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_sign_in_at BIGINT
);

-- Secrets the server must keep across restarts: JWKs that sign tokens, cookie-signing keys and the
-- HMAC key for verification codes. Rotation adds a row; retired rows stay for verification.
CREATE TABLE server_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  purpose TEXT COLLATE "C" NOT NULL,
  material TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT
);
CREATE INDEX server_keys_purpose ON server_keys (purpose, created_at);

-- One live code per (interaction, purpose): a resend overwrites the hash but keeps failed_attempts.
CREATE TABLE verification_codes (
  interaction_uid TEXT COLLATE "C" NOT NULL,
  purpose TEXT COLLATE "C" NOT NULL,
  email TEXT COLLATE "C" NOT NULL,
  code_hmac TEXT COLLATE "C" NOT NULL,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  expires_at BIGINT NOT NULL,
  last_sent_at BIGINT NOT NULL,
  consumed_at BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (interaction_uid, purpose)
);
CREATE INDEX verification_codes_expires_at ON verification_codes (expires_at);

-- Each code sent, for the per-address and per-IP caps (kept in the database to survive restarts).
CREATE TABLE verification_sends (
  id TEXT COLLATE "C" PRIMARY KEY,
  email TEXT COLLATE "C" NOT NULL,
  ip TEXT COLLATE "C" NOT NULL,
  sent_at BIGINT NOT NULL
);
CREATE INDEX verification_sends_email ON verification_sends (email, sent_at);
CREATE INDEX verification_sends_ip ON verification_sends (ip, sent_at);

-- Operator settings (the SMTP connector, the sign-in experience) as JSON documents.
CREATE TABLE settings (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL
);
