-- Times are Unix seconds (UTC). Lists are JSON arrays. Every tenant-scoped table leads its
-- primary key with tenant_id, so each lookup is by tenant first.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('trial', 'active', 'suspended')),
    settings    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    email           TEXT NOT NULL,
    name            TEXT,
    password_hash   TEXT,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    blocked         INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER,
    last_login_at   INTEGER,
    login_count     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE role_assignments (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE clients (
    tenant_id               TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      TEXT NOT NULL,
    client_id               TEXT NOT NULL,
    name                    TEXT NOT NULL,
    client_type             TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash             TEXT,
    redirect_uris           TEXT NOT NULL,
    grant_types             TEXT NOT NULL,
    scopes                  TEXT NOT NULL,
    require_pkce            INTEGER NOT NULL,
    require_consent         INTEGER NOT NULL,
    auth_method             TEXT NOT NULL,
    access_token_ttl_secs   INTEGER NOT NULL,
    id_token_ttl_secs       INTEGER NOT NULL,
    refresh_token_ttl_secs  INTEGER NOT NULL,
    disabled                INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, client_id)
);

CREATE TABLE user_sessions (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    auth_time     INTEGER NOT NULL,
    amr           TEXT NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_sessions_by_user ON user_sessions (tenant_id, user_id);
CREATE INDEX user_sessions_by_expiry ON user_sessions (expires_at);

CREATE TABLE consents (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE signing_keys (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid                 TEXT NOT NULL,
    alg                 TEXT NOT NULL,
    public_jwk          TEXT NOT NULL,
    private_key_sealed  BLOB NOT NULL,
    active              INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE audit_events (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    target      TEXT,
    ip          TEXT,
    user_agent  TEXT,
    reason      TEXT,
    request_id  TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at);

CREATE TABLE login_flows (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX login_flows_by_expiry ON login_flows (expires_at);

CREATE TABLE authorization_codes (
    tenant_id    TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    data         TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    redeemed_at  INTEGER,
    PRIMARY KEY (tenant_id, code_hash)
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE access_tokens (
    tenant_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT,
    scopes      TEXT NOT NULL,
    code_hash   TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX access_tokens_by_code ON access_tokens (tenant_id, code_hash);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE browser_sessions (
    id_hash     TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions (expires_at);
