-- The audit log (src/audit/log.ts): one row per meaningful event (a code sent or refused, a wrong
-- code or password, a lockout, a sign-up, sign-in, password reset or sign-out, a token issued to a
-- machine-to-machine app, a management change), for administrators. Never a code, password,
-- secret, token or cookie: `data` holds a small JSON object of non-secret details.
--
-- `seq` (the rowid) is the order rows were written in: two events of one request can share a
-- millisecond, and listings must still show them in the order they happened. AUTOINCREMENT: never
-- reused, even after the purge empties the table (PostgreSQL's twin is a BIGINT identity column).
-- `id` is the random, public id (GET /api/logs/:id). Rows are purged after AUDIT_LOG_RETENTION_DAYS.
CREATE TABLE audit_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('success', 'failure')),
  user_id TEXT,
  application_id TEXT,
  actor TEXT,
  ip TEXT,
  user_agent TEXT,
  data TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);
-- Newest first, optionally from/to a time; the retention purge (created_at < cutoff) too.
CREATE INDEX audit_logs_created_at ON audit_logs (created_at, seq);
-- The filters. Partial where most rows carry no value (code refusals for unknown addresses, m2m
-- tokens, management changes by the CLI), so those rows cost no index entry.
CREATE INDEX audit_logs_user ON audit_logs (user_id, created_at, seq) WHERE user_id IS NOT NULL;
CREATE INDEX audit_logs_application ON audit_logs (application_id, created_at, seq) WHERE application_id IS NOT NULL;
CREATE INDEX audit_logs_type ON audit_logs (type, created_at, seq);
