-- Custom roles, teams, and what the console's lists filter on.

CREATE TABLE roles (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- `role-<uuid>`: what role assignments and team roles name.
    id           text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL,
    permissions  jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX roles_by_name ON roles (tenant_id, lower(name));

CREATE TABLE teams (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX teams_by_name ON teams (tenant_id, lower(name));

CREATE TABLE team_roles (
    tenant_id  uuid NOT NULL,
    team_id    uuid NOT NULL,
    role       text NOT NULL,
    PRIMARY KEY (tenant_id, team_id, role),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX team_roles_by_role ON team_roles (tenant_id, role);

CREATE TABLE team_members (
    tenant_id   uuid NOT NULL,
    team_id     uuid NOT NULL,
    user_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, team_id, user_id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX team_members_by_user ON team_members (tenant_id, user_id);

CREATE INDEX role_assignments_by_role ON role_assignments (tenant_id, role);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target, at);
-- The retention purge looks at every tenant's old events.
CREATE INDEX audit_events_by_age ON audit_events (at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'teams', 'team_roles', 'team_members']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = tessera_current_tenant())
                        WITH CHECK (tenant_id = tessera_current_tenant())', t);
    END LOOP;
END
$$;

-- The retention purge (a housekeeping transaction) reads and deletes old events of every tenant.
CREATE POLICY housekeeping_read ON audit_events FOR SELECT USING (tessera_housekeeping());
CREATE POLICY housekeeping_delete ON audit_events FOR DELETE USING (tessera_housekeeping());

-- The audit log is append-only: nothing rewrites an event. Only the retention purge (and the
-- deletion of a whole tenant) deletes.
CREATE FUNCTION tessera_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION tessera_audit_append_only();

-- Who registered a client in the console (a developer manages only their own), and its logo.
ALTER TABLE clients ADD COLUMN created_by uuid;
ALTER TABLE clients ADD COLUMN logo_uri text;
CREATE INDEX clients_by_creator ON clients (tenant_id, created_by);
