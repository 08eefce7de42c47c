-- Tokens of the client-credentials grant have no authorization code and no user: they need no
-- entry in the indexes that find a code's or a person's tokens. Partial indexes spare every
-- such token two index writes; a lookup by code or by user (`= ?` implies NOT NULL) still
-- uses them.
DROP INDEX access_tokens_by_code;
CREATE INDEX access_tokens_by_code ON access_tokens (tenant_id, code_hash)
    WHERE code_hash IS NOT NULL;
DROP INDEX access_tokens_by_grant;
CREATE INDEX access_tokens_by_grant ON access_tokens (tenant_id, user_id, client_id)
    WHERE user_id IS NOT NULL;
