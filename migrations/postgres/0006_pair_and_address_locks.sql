-- PostgreSQL twin of migrations/sqlite/0006_pair_and_address_locks.sql.
-- Locks now have two subjects: an address (all sources) and an address seen from one IP (a pair), so
-- one attacker's failures pause only their own attempts. `subject` is 'address <email>' or
-- 'pair <email> <ip>'; level doubles the next lock of that subject.
CREATE TABLE sign_in_locks (
  subject TEXT COLLATE "C" PRIMARY KEY,
  email TEXT COLLATE "C" NOT NULL,
  level INTEGER NOT NULL,
  locked_until BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX sign_in_locks_email ON sign_in_locks (email);
INSERT INTO sign_in_locks (subject, email, level, locked_until, updated_at)
  SELECT 'address ' || email, email, level, locked_until, updated_at FROM sign_in_lockouts;
DROP TABLE sign_in_lockouts;

-- Pair counts: failures and code sends of one address from one IP.
CREATE INDEX sign_in_failures_pair ON sign_in_failures (email, ip, failed_at);
CREATE INDEX verification_sends_pair ON verification_sends (email, ip, sent_at);
