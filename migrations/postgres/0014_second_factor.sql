-- PostgreSQL twin of migrations/sqlite/0014_second_factor.sql (a second factor: TOTP, backup codes).
CREATE TABLE mfa_totp (
  user_id TEXT COLLATE "C" PRIMARY KEY,
  id TEXT COLLATE "C" NOT NULL UNIQUE,
  secret TEXT NOT NULL,
  last_step BIGINT,
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT
);

CREATE TABLE mfa_backup_codes (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL,
  set_id TEXT COLLATE "C" NOT NULL,
  code_hash TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE UNIQUE INDEX mfa_backup_codes_hash ON mfa_backup_codes (user_id, code_hash);

CREATE TABLE mfa_pending (
  interaction_uid TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL,
  amr TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  second_at BIGINT
);
CREATE INDEX mfa_pending_expires_at ON mfa_pending (expires_at);
