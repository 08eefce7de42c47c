-- Second factors (TOTP, email codes, passkeys, backup codes) and what the account page reads.

CREATE TABLE factors (
    tenant_id     uuid NOT NULL,
    id            text NOT NULL,
    user_id       uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('totp', 'email_code', 'passkey', 'backup_codes')),
    name          text NOT NULL,
    -- The kind's state as JSON, opaque to the database; secrets inside are sealed with
    -- AES-256-GCM.
    data          text NOT NULL,
    version       bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX factors_by_user ON factors (tenant_id, user_id, created_at);

ALTER TABLE factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON factors USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());

-- A person's own sign-in activity on the account page.
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor, at DESC);
