-- Work that outlives its request and its process (back-channel logout deliveries). A process
-- leases a job (leased_by, lease_until); when it dies, the lease ends and another runs it.
CREATE TABLE jobs (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    run_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    leased_by   TEXT,
    lease_until INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX jobs_by_id ON jobs (id);
CREATE INDEX jobs_due ON jobs (run_at);

-- When each installation-wide scheduled job (purge, key rotation) is next due: of several
-- processes, the one that moves `due_at` on runs it.
CREATE TABLE job_turns (
    name    TEXT PRIMARY KEY,
    due_at  INTEGER NOT NULL
);
