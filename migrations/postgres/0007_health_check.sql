-- PostgreSQL twin of migrations/sqlite/0007_health_check.sql.
-- One row that /health rewrites on every probe: a database that answers reads but cannot write
-- (a read-only standby, a full disk, default_transaction_read_only) is unavailable to sign-ins, and
-- only a real committed write finds that out.
CREATE TABLE health_check (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at BIGINT NOT NULL
);
