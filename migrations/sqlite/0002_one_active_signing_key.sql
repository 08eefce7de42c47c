-- One signing key at a time: two processes creating a tenant's first key cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id) WHERE active;
