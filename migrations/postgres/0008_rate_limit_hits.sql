-- PostgreSQL twin of migrations/sqlite/0008_rate_limit_hits.sql.
-- The HTTP rate limits' counters, shared by every instance on this database (src/http/rate-limit-store.ts):
-- one row per client key and budget, holding the current fixed window. UNLOGGED: each request
-- rewrites a row, and counters are worth no WAL (a crash forgets them, which only resets the windows).
CREATE UNLOGGED TABLE rate_limit_hits (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  hits INTEGER NOT NULL
);
