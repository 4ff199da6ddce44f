-- The HTTP rate limits' counters when several processes share the database (src/http/rate-limit-store.ts):
-- one row per client key and budget, holding the current fixed window. A single process keeps them
-- in memory and leaves this table empty.
CREATE TABLE rate_limit_hits (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  hits INTEGER NOT NULL
);
