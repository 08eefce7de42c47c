-- RFC 7591 / RFC 7592: an application that registered itself keeps the SHA-256 of its
-- registration access token; the tenant's initial access tokens let applications register
-- (only their SHA-256 is kept; `hint` is their first characters).
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
CREATE TABLE initial_access_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    hint        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    max_uses    INTEGER NOT NULL,
    uses        INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX initial_access_tokens_by_hash ON initial_access_tokens (tenant_id, hash);
