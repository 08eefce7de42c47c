-- Where a tenant's data lives: NULL for the main database, else the sealed connection settings
-- of its own database (database-per-tenant mode).
-- Safe on a large table: a nullable column without a default changes only the catalogue (no
-- rewrite); the ACCESS EXCLUSIVE lock on tenants is held for that instant alone.
ALTER TABLE tenants ADD COLUMN database text;
