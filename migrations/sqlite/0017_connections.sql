-- Upstream identity providers a tenant's people may sign in with (connections), and the
-- upstream identities linked to its people. The protocol's addresses are those of its kind:
-- `issuer` for 'oidc', the three endpoints for 'oauth2'. Scopes and domains are JSON arrays.
CREATE TABLE connections (
    tenant_id               TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      TEXT NOT NULL,
    slug                    TEXT NOT NULL,
    name                    TEXT NOT NULL,
    preset                  TEXT NOT NULL,
    protocol                TEXT NOT NULL CHECK (protocol IN ('oidc', 'oauth2')),
    issuer                  TEXT,
    authorization_endpoint  TEXT,
    token_endpoint          TEXT,
    userinfo_endpoint       TEXT,
    client_id               TEXT NOT NULL,
    -- Sealed with AES-256-GCM under the encryption key, base64.
    client_secret           TEXT,
    scopes                  TEXT NOT NULL,
    subject_claim           TEXT NOT NULL,
    email_claim             TEXT NOT NULL,
    email_verified_claim    TEXT NOT NULL,
    name_claim              TEXT NOT NULL,
    domains                 TEXT NOT NULL,
    provisioning            INTEGER NOT NULL,
    enabled                 INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX connections_by_slug ON connections (tenant_id, slug);

CREATE TABLE linked_identities (
    tenant_id      TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    email          TEXT,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    PRIMARY KEY (tenant_id, connection_id, subject),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX linked_identities_by_user ON linked_identities (tenant_id, user_id, created_at);
