-- Where a tenant's data lives: NULL for the main database, else the sealed connection settings
-- of its own database (database-per-tenant mode).
ALTER TABLE tenants ADD COLUMN database TEXT;
