-- RFC 7591 §2 `jwks_uri` per client: where it publishes its public keys, instead of `jwks`.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
