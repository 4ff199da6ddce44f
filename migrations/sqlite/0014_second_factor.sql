-- A second factor (issue 17): authenticator apps (TOTP) and backup codes; see src/mfa/.
--
-- One authenticator per account. `secret` is the RFC 6238 shared secret (base32). It is stored as
-- is, not encrypted: the only key Sesame could encrypt it with lives in this same database
-- (server_keys), and those keys rotate; see README "Second factor". It never leaves the server after
-- enrolment (no API, page or log shows it). `confirmed_at` NULL: an enrolment in progress (the QR
-- code was shown, no code typed back yet), which does not count as a second factor.
-- `last_step`: the RFC 6238 time step of the last accepted code; a code is accepted only for a later
-- step, in one conditional UPDATE, so a code works once even when two requests race.
CREATE TABLE mfa_totp (
  user_id TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  secret TEXT NOT NULL,
  last_step BIGINT,
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT
);

-- Single-use backup codes, ten per set; a new set replaces the old one. `code_hash` is the
-- SHA-256 of the user ID and the code (50 random bits each; see src/mfa/backup-codes.ts for why a
-- fast hash is enough). `set_id` is the set's public ID (the management API's BackupCode entry).
CREATE TABLE mfa_backup_codes (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  set_id TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE UNIQUE INDEX mfa_backup_codes_hash ON mfa_backup_codes (user_id, code_hash);

-- A sign-in between its first factor and its second: the interaction that passed the first factor,
-- for whom, and how (amr, a JSON list). Keyed by the interaction's uid, so the second step can only
-- finish that interaction (whose cookie the browser holds), never another. `second_at`: the second
-- factor was set up in this interaction (the backup codes are being shown), so "I saved them" may finish.
CREATE TABLE mfa_pending (
  interaction_uid TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  amr TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  second_at BIGINT
);
CREATE INDEX mfa_pending_expires_at ON mfa_pending (expires_at);
