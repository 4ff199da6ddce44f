-- Passkeys and the account page (issue 17, items 1-2).
--
-- One WebAuthn credential a person registered on ${ENDPOINT}/account (src/passkeys/). A discoverable
-- credential: the authenticator keeps the account's user handle, so a passkey signs in with no email.
-- `credential_id` is the authenticator's credential ID (base64url, unique across accounts);
-- `public_key` the COSE public key (base64url), never a secret; `counter` the last signature counter
-- seen (a counter that goes backwards while not 0 is refused: a cloned authenticator); `device_type`
-- 'singleDevice' or 'multiDevice' (the backup-eligible flag, fixed for the credential's life) and
-- `backed_up` the backup-state flag as last seen. `transports` is a JSON list of strings.
-- Removed with the account (ON DELETE CASCADE).
CREATE TABLE passkeys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id TEXT NOT NULL UNIQUE,
  public_key TEXT NOT NULL,
  counter BIGINT NOT NULL DEFAULT 0,
  transports TEXT NOT NULL DEFAULT '[]',
  device_type TEXT NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up INTEGER NOT NULL DEFAULT 0,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A WebAuthn challenge waiting for its answer, single use: taken (deleted) by the request that
-- checks the answer. `id` says what it is bound to: 'signin:<interaction uid>' (a passkey sign-in of
-- that interaction) or 'register:<account session id>' (adding a passkey on the account page). One
-- live challenge per binding: asking again replaces it.
CREATE TABLE webauthn_challenges (
  id TEXT PRIMARY KEY,
  challenge TEXT NOT NULL,
  user_id TEXT,
  expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);

-- One signed-in session of the account page (src/account/session.ts), as console_sessions: the
-- browser holds a random token in a signed cookie scoped to /account, the row is keyed by its
-- SHA-256. `data` is a JSON object (a one-time notice). Ends with the account (ON DELETE CASCADE).
CREATE TABLE account_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_expires_at ON account_sessions (expires_at);
CREATE INDEX account_sessions_user ON account_sessions (user_id);
