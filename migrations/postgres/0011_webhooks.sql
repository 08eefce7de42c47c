-- Webhook endpoints (the signing secret sealed with the installation's key) and the log of
-- their delivery attempts. The messages waiting to be sent are jobs (`jobs`).
-- New tables: creating them and their indexes takes no lock on any table in use.
CREATE TABLE webhook_endpoints (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    url              text NOT NULL,
    description      text NOT NULL,
    events           jsonb NOT NULL,
    secret           bytea NOT NULL,
    enabled          boolean NOT NULL,
    disabled_reason  text,
    failing_since    timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    endpoint_id  uuid NOT NULL,
    message_id   text NOT NULL,
    event_type   text NOT NULL,
    payload      text NOT NULL,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL,
    status       integer,
    latency_ms   bigint NOT NULL,
    response     text NOT NULL,
    succeeded    boolean NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, at);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (at);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
-- The log's purge (a housekeeping transaction) reads and deletes old attempts of every tenant.
CREATE POLICY housekeeping_read ON webhook_deliveries FOR SELECT USING (tessera_housekeeping());
CREATE POLICY housekeeping_delete ON webhook_deliveries FOR DELETE USING (tessera_housekeeping());
