-- Webhook endpoints (the signing secret sealed with the installation's key) and the log of
-- their delivery attempts. The messages waiting to be sent are jobs (`jobs`).
CREATE TABLE webhook_endpoints (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL,
    events           TEXT NOT NULL,
    secret           BLOB NOT NULL,
    enabled          INTEGER NOT NULL,
    disabled_reason  TEXT,
    failing_since    INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    status       INTEGER,
    latency_ms   INTEGER NOT NULL,
    response     TEXT NOT NULL,
    succeeded    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, at);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (at);
