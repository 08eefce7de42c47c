-- Custom roles, teams, and what the console's lists filter on.

CREATE TABLE roles (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    permissions  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX roles_by_name ON roles (tenant_id, lower(name));

CREATE TABLE teams (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX teams_by_name ON teams (tenant_id, lower(name));

CREATE TABLE team_roles (
    tenant_id  TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team_id, role),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX team_roles_by_role ON team_roles (tenant_id, role);

CREATE TABLE team_members (
    tenant_id   TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, team_id, user_id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX team_members_by_user ON team_members (tenant_id, user_id);

CREATE INDEX role_assignments_by_role ON role_assignments (tenant_id, role);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target, at);

-- The audit log is append-only: nothing rewrites an event. Only the retention purge deletes.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Who registered a client in the console (a developer manages only their own), and its logo.
ALTER TABLE clients ADD COLUMN created_by TEXT;
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
CREATE INDEX clients_by_creator ON clients (tenant_id, created_by);
