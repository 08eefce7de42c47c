-- Every tenant-scoped table carries tenant_id, leads its primary key with it, and is guarded by
-- row-level security: a row is visible only to a transaction whose app.tenant_id setting (set
-- with SET LOCAL by the application) names its tenant. FORCE makes the policies bind the table
-- owner too, so the application role (which owns these tables) cannot read across tenants even
-- through a query that forgets its tenant filter.

CREATE FUNCTION tessera_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- The housekeeping job deletes expired rows of every tenant; it alone sets app.housekeeping,
-- and the policies it unlocks allow reading and deleting, never inserting or updating.
CREATE FUNCTION tessera_housekeeping() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('app.housekeeping', true), '') = 'on' $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('trial', 'active', 'suspended')),
    settings    jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE users (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    email           text NOT NULL,
    name            text,
    password_hash   text,
    email_verified  boolean NOT NULL DEFAULT false,
    blocked         boolean NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    last_login_at   timestamptz,
    login_count     bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE role_assignments (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE clients (
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                      uuid NOT NULL,
    client_id               text NOT NULL,
    name                    text NOT NULL,
    client_type             text NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash             text,
    redirect_uris           jsonb NOT NULL,
    grant_types             jsonb NOT NULL,
    scopes                  jsonb NOT NULL,
    require_pkce            boolean NOT NULL,
    require_consent         boolean NOT NULL,
    auth_method             text NOT NULL,
    access_token_ttl_secs   bigint NOT NULL,
    id_token_ttl_secs       bigint NOT NULL,
    refresh_token_ttl_secs  bigint NOT NULL,
    refresh_family_ttl_secs bigint NOT NULL,
    id_token_signed_response_alg text NOT NULL DEFAULT 'ES256',
    require_pushed_authorization_requests boolean NOT NULL DEFAULT false,
    post_logout_redirect_uris jsonb NOT NULL DEFAULT '[]',
    backchannel_logout_uri  text,
    -- The client's public keys (a JWK Set) for private_key_jwt authentication.
    jwks                    jsonb,
    -- A rotated-out secret keeps working until its grace period ends.
    previous_secret_hash    text,
    previous_secret_expires_at timestamptz,
    -- RFC 8707 resource indicators the client may ask tokens for.
    resources               jsonb NOT NULL DEFAULT '[]',
    disabled                boolean NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, client_id)
);

CREATE TABLE user_sessions (
    tenant_id     uuid NOT NULL,
    id            text NOT NULL,
    user_id       uuid NOT NULL,
    auth_time     timestamptz NOT NULL,
    amr           jsonb NOT NULL,
    ip            text,
    user_agent    text,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_sessions_by_user ON user_sessions (tenant_id, user_id);
CREATE INDEX user_sessions_by_expiry ON user_sessions (expires_at);

CREATE TABLE consents (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    client_id   text NOT NULL,
    scopes      jsonb NOT NULL,
    granted_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE signing_keys (
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid                 text NOT NULL,
    alg                 text NOT NULL,
    public_jwk          jsonb NOT NULL,
    private_key_sealed  bytea NOT NULL,
    -- next (published, not yet signing) -> active (signing) -> retired (published until
    -- retires_at)
    state               text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at          timestamptz NOT NULL,
    activates_at        timestamptz NOT NULL,
    retires_at          timestamptz,
    PRIMARY KEY (tenant_id, kid)
);
-- One active and at most one next key per algorithm: processes creating or rotating keys at
-- the same moment cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id, alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id, alg) WHERE state = 'next';
CREATE INDEX signing_keys_by_retirement ON signing_keys (retires_at) WHERE retires_at IS NOT NULL;

CREATE TABLE audit_events (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    at          timestamptz NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure')),
    actor       text NOT NULL,
    target      text,
    ip          text,
    user_agent  text,
    reason      text,
    request_id  text,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at DESC, id DESC);

CREATE TABLE login_flows (
    tenant_id   uuid NOT NULL,
    id          text NOT NULL,
    data        jsonb NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX login_flows_by_expiry ON login_flows (expires_at);

CREATE TABLE authorization_codes (
    tenant_id    uuid NOT NULL,
    code_hash    text NOT NULL,
    data         jsonb NOT NULL,
    expires_at   timestamptz NOT NULL,
    redeemed_at  timestamptz,
    PRIMARY KEY (tenant_id, code_hash)
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE access_tokens (
    tenant_id   uuid NOT NULL,
    jti         text NOT NULL,
    client_id   text NOT NULL,
    user_id     uuid,
    scopes      jsonb NOT NULL,
    code_hash   text,
    family_id   text,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX access_tokens_by_code ON access_tokens (tenant_id, code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX access_tokens_by_family ON access_tokens (tenant_id, family_id) WHERE family_id IS NOT NULL;
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    tenant_id    uuid NOT NULL,
    token_hash   text NOT NULL,
    family_id    text NOT NULL,
    data         jsonb NOT NULL,
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz,
    -- The browser sign-in whose end revokes the token (NULL for offline access).
    bound_session_id text,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (tenant_id, bound_session_id)
    WHERE bound_session_id IS NOT NULL;

-- Short-lived records looked up only by key: pushed authorization requests, device grants and
-- their user codes, replay markers. `version` guards compare-and-set updates.
CREATE TABLE ephemeral (
    tenant_id   uuid NOT NULL,
    kind        text NOT NULL,
    key         text NOT NULL,
    value       text NOT NULL,
    version     bigint NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, key)
);
CREATE INDEX ephemeral_by_expiry ON ephemeral (expires_at);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- Not tenant-scoped: one browser may be signed in to several tenants.
CREATE TABLE browser_sessions (
    id_hash     text PRIMARY KEY,
    data        text NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions (expires_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'role_assignments', 'clients', 'user_sessions', 'consents',
                             'signing_keys', 'audit_events', 'login_flows', 'authorization_codes',
                             'access_tokens', 'refresh_tokens', 'ephemeral']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = tessera_current_tenant())
                        WITH CHECK (tenant_id = tessera_current_tenant())', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['user_sessions', 'login_flows', 'authorization_codes', 'access_tokens',
                             'refresh_tokens', 'signing_keys', 'ephemeral']
    LOOP
        EXECUTE format('CREATE POLICY housekeeping_read ON %I FOR SELECT USING (tessera_housekeeping())', t);
        EXECUTE format('CREATE POLICY housekeeping_delete ON %I FOR DELETE USING (tessera_housekeeping())', t);
    END LOOP;
END
$$;
