-- The id a provisioning system (SCIM) knows a person by.
ALTER TABLE users ADD COLUMN external_id TEXT;
