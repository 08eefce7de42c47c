-- The console overview counts sign-ins per day: an index of the sign-in events alone, so the
-- count does not read a month of every tenant's token events.
CREATE INDEX audit_events_sign_ins ON audit_events (tenant_id, at)
    WHERE action IN ('login.succeeded', 'login.password', 'login.second_factor');
