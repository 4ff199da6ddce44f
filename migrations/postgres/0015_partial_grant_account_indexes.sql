-- PostgreSQL twin of migrations/sqlite/0015_partial_grant_account_indexes.sql.
-- Index only the rows that carry a grant or an account: the upserts of the other models skip them.
DROP INDEX oidc_model_instances_grant_id;
DROP INDEX oidc_model_instances_account_id;
CREATE INDEX oidc_model_instances_grant_id ON oidc_model_instances (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_model_instances_account_id ON oidc_model_instances (account_id) WHERE account_id IS NOT NULL;
