-- Work that outlives its request and its process (back-channel logout deliveries). A process
-- leases a job (leased_by, lease_until); when it dies, the lease ends and another runs it.
-- New, empty tables: nothing here locks or rewrites an existing table.
CREATE TABLE jobs (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    kind        text NOT NULL,
    payload     text NOT NULL,
    created_at  timestamptz NOT NULL,
    run_at      timestamptz NOT NULL,
    attempts    integer NOT NULL,
    last_error  text,
    leased_by   text,
    lease_until timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX jobs_by_id ON jobs (id);
CREATE INDEX jobs_due ON jobs (run_at);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs USING (tenant_id = tessera_current_tenant())
    WITH CHECK (tenant_id = tessera_current_tenant());
-- The workers claim due jobs of every tenant in a housekeeping transaction.
CREATE POLICY housekeeping_read ON jobs FOR SELECT USING (tessera_housekeeping());
CREATE POLICY housekeeping_claim ON jobs FOR UPDATE USING (tessera_housekeeping());

-- When each installation-wide scheduled job (purge, key rotation) is next due: of several
-- processes, the one that moves `due_at` on runs it. Not tenant-scoped.
CREATE TABLE job_turns (
    name    text PRIMARY KEY,
    due_at  timestamptz NOT NULL
);
