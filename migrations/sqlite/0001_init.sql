-- Relying-party applications registered with `sesame app create`.
-- JSON lists are stored as TEXT so the same schema works on PostgreSQL (as text or jsonb).
CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  secret TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  post_logout_redirect_uris TEXT NOT NULL,
  is_third_party INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

-- Every oidc-provider model (sessions, grants, codes, tokens, interactions...) lives here.
CREATE TABLE oidc_model_instances (
  model TEXT NOT NULL,
  id TEXT NOT NULL,
  payload TEXT NOT NULL,
  expires_at BIGINT,
  consumed_at BIGINT,
  grant_id TEXT,
  uid TEXT,
  user_code TEXT,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_model_instances_grant_id ON oidc_model_instances (grant_id);
CREATE INDEX oidc_model_instances_uid ON oidc_model_instances (model, uid);
CREATE INDEX oidc_model_instances_user_code ON oidc_model_instances (model, user_code);
CREATE INDEX oidc_model_instances_expires_at ON oidc_model_instances (expires_at);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  email_verified INTEGER NOT NULL DEFAULT 0,
  name TEXT,
  username TEXT UNIQUE,
  password_hash TEXT,
  custom_data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_sign_in_at BIGINT
);

-- Secrets the server must keep across restarts: JWKs that sign tokens, cookie-signing keys and the
-- HMAC key for verification codes. Rotation adds a row; retired rows stay for verification.
CREATE TABLE server_keys (
  id TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  material TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT
);
CREATE INDEX server_keys_purpose ON server_keys (purpose, created_at);

-- One live code per (interaction, purpose): a resend overwrites the hash but keeps failed_attempts.
CREATE TABLE verification_codes (
  interaction_uid TEXT NOT NULL,
  purpose TEXT NOT NULL,
  email TEXT NOT NULL,
  code_hmac TEXT NOT NULL,
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
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  ip TEXT NOT NULL,
  sent_at BIGINT NOT NULL
);
CREATE INDEX verification_sends_email ON verification_sends (email, sent_at);
CREATE INDEX verification_sends_ip ON verification_sends (ip, sent_at);

-- Operator settings (the SMTP connector, the sign-in experience) as JSON documents.
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
