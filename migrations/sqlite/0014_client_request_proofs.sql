-- RFC 9449 (DPoP) per client: token requests must carry a DPoP proof (§5.2
-- `dpop_bound_access_tokens`), and the proofs must carry a nonce this server issued (§8).
-- RFC 9101 (JAR) §10.5 per client: authorization requests must come as a signed request object.
-- RFC 8693 §2.1 per client: the audiences and scopes a token exchange may give it (JSON).
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_dpop_nonce INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_signed_request_object INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN token_exchange TEXT NOT NULL DEFAULT '{"audiences":[],"scopes":[]}';
