-- PostgreSQL twin of migrations/sqlite/0004_partial_model_indexes.sql.
-- Only interactions carry a uid and only device codes a user_code: index just those rows, which
-- makes every upsert of the other models (the hot path) cheaper.
DROP INDEX oidc_model_instances_uid;
DROP INDEX oidc_model_instances_user_code;
CREATE INDEX oidc_model_instances_uid ON oidc_model_instances (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_model_instances_user_code ON oidc_model_instances (model, user_code) WHERE user_code IS NOT NULL;
