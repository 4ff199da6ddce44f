-- PostgreSQL twin of migrations/sqlite/0005_application_auth_method.sql.
-- Each app authenticates at the token, introspection and revocation endpoints with the one method
-- it was registered for (`sesame app create --token-endpoint-auth-method`). Apps registered before
-- this column existed keep client_secret_basic, the method Sesame always advertised for them.
ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT COLLATE "C" NOT NULL DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post'));
