-- PostgreSQL twin of migrations/sqlite/0003_passwords_and_lockout.sql (see 0001 for the rules).
-- Failed sign-in attempts (wrong passwords and wrong codes together), per address and per IP.
CREATE TABLE sign_in_failures (
  id TEXT COLLATE "C" PRIMARY KEY,
  email TEXT COLLATE "C" NOT NULL,
  ip TEXT COLLATE "C" NOT NULL,
  failed_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email, failed_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, failed_at);

-- An address that failed too often: locked until locked_until; level doubles the next lock.
-- (Replaced by sign_in_locks in 0006, which copies its rows and drops it.)
CREATE TABLE sign_in_lockouts (
  email TEXT COLLATE "C" PRIMARY KEY,
  level INTEGER NOT NULL,
  locked_until BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- Which account an OIDC artifact (session, grant, token) belongs to, so a password reset can revoke
-- every session and refresh token of that account.
ALTER TABLE oidc_model_instances ADD COLUMN account_id TEXT COLLATE "C";
CREATE INDEX oidc_model_instances_account_id ON oidc_model_instances (account_id);
