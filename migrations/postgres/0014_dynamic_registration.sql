-- RFC 7591 / RFC 7592: an application that registered itself keeps the SHA-256 of its
-- registration access token; the tenant's initial access tokens let applications register
-- (only their SHA-256 is kept; `hint` is their first characters).
-- Safe on a large table: a nullable column without a default only changes the catalogue; the
-- ACCESS EXCLUSIVE lock on clients is held for that instant alone. The new table takes no
-- lock on any table in use.
ALTER TABLE clients ADD COLUMN registration_token_hash text;
CREATE TABLE initial_access_tokens (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    name        text NOT NULL,
    hint        text NOT NULL,
    hash        text NOT NULL,
    max_uses    bigint NOT NULL,
    uses        bigint NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX initial_access_tokens_by_hash ON initial_access_tokens (tenant_id, hash);

ALTER TABLE initial_access_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE initial_access_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON initial_access_tokens USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
