-- SAML 2.0 connections: the protocol 'saml' keeps the identity provider's entity id in
-- `issuer`, its single sign-on URL in `authorization_endpoint`, and the certificates of its
-- signing keys in `certificates` (a JSON array of base64 DER; NULL for the other kinds).
-- SQLite cannot change a CHECK constraint in place, so both tables are rebuilt and their rows
-- copied; linked_identities first goes, then comes back, so that dropping the old
-- connections cascades to nothing.
CREATE TABLE connections_v2 (
    tenant_id               TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      TEXT NOT NULL,
    slug                    TEXT NOT NULL,
    name                    TEXT NOT NULL,
    preset                  TEXT NOT NULL,
    protocol                TEXT NOT NULL CHECK (protocol IN ('oidc', 'oauth2', 'saml')),
    issuer                  TEXT,
    authorization_endpoint  TEXT,
    token_endpoint          TEXT,
    userinfo_endpoint       TEXT,
    certificates            TEXT,
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
INSERT INTO connections_v2 (tenant_id, id, slug, name, preset, protocol, issuer,
    authorization_endpoint, token_endpoint, userinfo_endpoint, client_id, client_secret, scopes,
    subject_claim, email_claim, email_verified_claim, name_claim, domains, provisioning, enabled,
    created_at, updated_at)
SELECT tenant_id, id, slug, name, preset, protocol, issuer, authorization_endpoint,
    token_endpoint, userinfo_endpoint, client_id, client_secret, scopes, subject_claim,
    email_claim, email_verified_claim, name_claim, domains, provisioning, enabled, created_at,
    updated_at
FROM connections;

CREATE TABLE linked_identities_v2 (
    tenant_id      TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    email          TEXT,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    PRIMARY KEY (tenant_id, connection_id, subject),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections_v2 (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO linked_identities_v2 (tenant_id, connection_id, subject, user_id, email, created_at,
    last_used_at)
SELECT tenant_id, connection_id, subject, user_id, email, created_at, last_used_at
FROM linked_identities;

DROP TABLE linked_identities;
DROP TABLE connections;
-- Renaming also renames the reference of linked_identities_v2.
ALTER TABLE connections_v2 RENAME TO connections;
ALTER TABLE linked_identities_v2 RENAME TO linked_identities;
CREATE UNIQUE INDEX connections_by_slug ON connections (tenant_id, slug);
CREATE INDEX linked_identities_by_user ON linked_identities (tenant_id, user_id, created_at);
