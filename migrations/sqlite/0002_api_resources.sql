-- API resources registered with `sesame resource create`: an access token asked for with
-- `resource=<indicator>` is a JWT whose aud is the indicator, scoped to the listed scopes.
-- scopes is a JSON list stored as TEXT so the same schema works on PostgreSQL.
CREATE TABLE api_resources (
  id TEXT PRIMARY KEY,
  indicator TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  access_token_ttl INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
