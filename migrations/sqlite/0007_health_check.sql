-- One row that /health rewrites on every probe: a database that answers reads but cannot write
-- (read-only file, full disk, a lock held by another program) is unavailable to sign-ins, and only
-- a real committed write finds that out. A rolled-back write never reaches the disk, so it would not.
CREATE TABLE health_check (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at BIGINT NOT NULL
);
