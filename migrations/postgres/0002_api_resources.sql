-- PostgreSQL twin of migrations/sqlite/0002_api_resources.sql (see 0001 for the translation rules).
-- API resources registered with `sesame resource create`: an access token asked for with
-- `resource=<indicator>` is a JWT whose aud is the indicator, scoped to the listed scopes.
-- scopes is a JSON list stored as TEXT, as on SQLite.
CREATE TABLE api_resources (
  id TEXT COLLATE "C" PRIMARY KEY,
  indicator TEXT COLLATE "C" NOT NULL UNIQUE,
  name TEXT COLLATE "C" NOT NULL,
  scopes TEXT COLLATE "C" NOT NULL,
  access_token_ttl INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
