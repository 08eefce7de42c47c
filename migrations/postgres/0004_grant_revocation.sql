-- Withdrawing a consent revokes the tokens a person holds for that application: find them by
-- person and client. Refresh tokens keep both inside their JSON data.
CREATE INDEX access_tokens_by_grant ON access_tokens (tenant_id, user_id, client_id);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens
    (tenant_id, (data->>'user_id'), (data->>'client_id'));
