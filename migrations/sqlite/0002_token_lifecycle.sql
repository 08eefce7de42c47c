-- Refresh tokens with rotation families, signing-key rotation, per-client token policy.

-- Keys rotate: next (published, not yet signing) -> active (signing) -> retired (published
-- until retires_at). One active and at most one next key per algorithm, so processes creating
-- or rotating keys at the same moment cannot both win.
ALTER TABLE signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('next', 'active', 'retired'));
UPDATE signing_keys SET state = CASE WHEN active THEN 'active' ELSE 'retired' END;
ALTER TABLE signing_keys DROP COLUMN active;
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ADD COLUMN retires_at INTEGER;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id, alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id, alg) WHERE state = 'next';
CREATE INDEX signing_keys_by_retirement ON signing_keys (retires_at) WHERE retires_at IS NOT NULL;

ALTER TABLE clients ADD COLUMN refresh_family_ttl_secs INTEGER NOT NULL DEFAULT 7776000;
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'ES256';
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
-- The client's public keys (a JWK Set) for private_key_jwt authentication.
ALTER TABLE clients ADD COLUMN jwks TEXT;
-- A rotated-out secret keeps working until its grace period ends.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER;
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
    -- The browser sign-in whose end revokes the token (NULL for offline access).
    bound_session_id TEXT,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (tenant_id, bound_session_id)
    WHERE bound_session_id IS NOT NULL;
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- Short-lived records looked up only by key: pushed authorization requests, device grants and
-- their user codes, replay markers. `version` guards compare-and-set updates.
CREATE TABLE ephemeral (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, key)
);
CREATE INDEX ephemeral_by_expiry ON ephemeral (expires_at);
