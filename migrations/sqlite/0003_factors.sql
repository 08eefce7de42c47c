-- Second factors (TOTP, email codes, passkeys, backup codes) and what the account page reads.

CREATE TABLE factors (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('totp', 'email_code', 'passkey', 'backup_codes')),
    name          TEXT NOT NULL,
    -- The kind's state as JSON; secrets inside are sealed with AES-256-GCM.
    data          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX factors_by_user ON factors (tenant_id, user_id, created_at);

-- A person's own sign-in activity on the account page.
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor, at);
