-- Refresh tokens with rotation families, signing keys per algorithm, per-client token policy.

-- One signing key per algorithm at a time: two processes creating a tenant's first key
-- cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id, alg) WHERE active;

ALTER TABLE clients ADD COLUMN refresh_family_ttl_secs INTEGER NOT NULL DEFAULT 7776000;
-- RFC 8707 resource indicators the client may ask tokens for (JSON array).
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

ALTER TABLE access_tokens ADD COLUMN family_id TEXT;
CREATE INDEX access_tokens_by_family ON access_tokens (tenant_id, family_id)
    WHERE family_id IS NOT NULL;

CREATE TABLE refresh_tokens (
    tenant_id    TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    family_id    TEXT NOT NULL,
    data         TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    rotated_at   INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
