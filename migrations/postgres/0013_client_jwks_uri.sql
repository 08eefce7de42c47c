-- RFC 7591 §2 `jwks_uri` per client: where it publishes its public keys, instead of `jwks`.
-- Safe on a large table: adding a nullable column without a default only rewrites the
-- catalogue (no table rewrite); the ACCESS EXCLUSIVE lock on clients is held for that instant
-- alone.
ALTER TABLE clients ADD COLUMN jwks_uri text;
