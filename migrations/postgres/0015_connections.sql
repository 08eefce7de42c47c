-- Upstream identity providers a tenant's people may sign in with (connections), and the
-- upstream identities linked to its people. The protocol's addresses are those of its kind:
-- `issuer` for 'oidc', the three endpoints for 'oauth2'.
-- New tables only: their foreign keys take a SHARE ROW EXCLUSIVE lock on tenants and users
-- until the migration commits, moments later (the new tables are empty, so there is nothing
-- to check), which holds up writes to them only that long. No other lock on a table in use.
CREATE TABLE connections (
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      uuid NOT NULL,
    -- Byte order, as SQLite and MongoDB compare: connections are listed by slug.
    slug                    text COLLATE "C" NOT NULL,
    name                    text NOT NULL,
    preset                  text NOT NULL,
    protocol                text NOT NULL CHECK (protocol IN ('oidc', 'oauth2')),
    issuer                  text,
    authorization_endpoint  text,
    token_endpoint          text,
    userinfo_endpoint       text,
    client_id               text NOT NULL,
    -- Sealed with AES-256-GCM under the encryption key, base64.
    client_secret           text,
    scopes                  jsonb NOT NULL,
    subject_claim           text NOT NULL,
    email_claim             text NOT NULL,
    email_verified_claim    text NOT NULL,
    name_claim              text NOT NULL,
    domains                 jsonb NOT NULL,
    provisioning            boolean NOT NULL,
    enabled                 boolean NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX connections_by_slug ON connections (tenant_id, slug);

CREATE TABLE linked_identities (
    tenant_id      uuid NOT NULL,
    connection_id  uuid NOT NULL,
    subject        text NOT NULL,
    user_id        uuid NOT NULL,
    email          text,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    PRIMARY KEY (tenant_id, connection_id, subject),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX linked_identities_by_user ON linked_identities (tenant_id, user_id, created_at);

ALTER TABLE connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE connections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON connections USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
ALTER TABLE linked_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE linked_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON linked_identities USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
