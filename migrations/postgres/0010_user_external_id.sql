-- The id a provisioning system (SCIM) knows a person by.
-- Safe on a large table: a nullable column without a default changes only the catalogue (no
-- rewrite); the ACCESS EXCLUSIVE lock on users is held for that instant alone.
ALTER TABLE users ADD COLUMN external_id text;
