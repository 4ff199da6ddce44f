-- Interactions carry neither a grant nor an account, and sessions and grants no grant_id: index
-- just the rows that have one, as 0004 did for uid and user_code, so the upserts of those models
-- (several per sign-in) update two indexes fewer. Every lookup is by equality, which implies
-- IS NOT NULL, so the partial indexes serve them all.
DROP INDEX oidc_model_instances_grant_id;
DROP INDEX oidc_model_instances_account_id;
CREATE INDEX oidc_model_instances_grant_id ON oidc_model_instances (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_model_instances_account_id ON oidc_model_instances (account_id) WHERE account_id IS NOT NULL;
