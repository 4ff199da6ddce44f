-- The management API (issue 14).
--
-- A suspended user keeps their account but cannot sign in, and their tokens stop working.
ALTER TABLE users ADD COLUMN is_suspended INTEGER NOT NULL DEFAULT 0;

-- Machine-to-machine apps (type 'machine_to_machine') get tokens for the management API only once an
-- operator granted it (`sesame app grant-management ID`, or isAdmin through the API).
ALTER TABLE applications ADD COLUMN management_access INTEGER NOT NULL DEFAULT 0;

-- Each scope of an API resource becomes a row of its own, with an ID and a description, as Logto's
-- /api/resources/:id/scopes serves them. No foreign key to api_resources: `sesame db copy` fills tables
-- in name order, and this one sorts first; deleteResource removes a resource's scopes in the same
-- transaction instead.
CREATE TABLE api_resource_scopes (
  id TEXT PRIMARY KEY,
  resource_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  created_at BIGINT NOT NULL,
  UNIQUE (resource_id, name)
);

INSERT INTO api_resource_scopes (id, resource_id, name, description, created_at)
SELECT lower(hex(randomblob(12))), r.id, s.value, NULL, r.created_at
FROM api_resources r, json_each(r.scopes) s;

ALTER TABLE api_resources DROP COLUMN scopes;
