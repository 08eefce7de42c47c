-- no-transaction
-- The console overview counts sign-ins per day: an index of the sign-in events alone, so the
-- count does not read a month of every tenant's token events.
-- Safe on a large audit log: built CONCURRENTLY (no lock that stops writes), hence outside a
-- transaction; IF NOT EXISTS lets a run interrupted half-way be repeated (drop the index first
-- if it was left INVALID).
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_events_sign_ins ON audit_events (tenant_id, at)
    WHERE action IN ('login.succeeded', 'login.password', 'login.second_factor');
