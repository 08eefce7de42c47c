-- Tokens of the client-credentials grant have no user: they need no entry in the index that
-- finds a person's tokens (the index by code is partial already). A lookup by user
-- (`= $n` implies NOT NULL) still uses it.
DROP INDEX access_tokens_by_grant;
CREATE INDEX access_tokens_by_grant ON access_tokens (tenant_id, user_id, client_id)
    WHERE user_id IS NOT NULL;
