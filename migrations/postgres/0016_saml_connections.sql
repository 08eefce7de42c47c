-- SAML 2.0 connections: the protocol 'saml' keeps the identity provider's entity id in
-- `issuer`, its single sign-on URL in `authorization_endpoint`, and the certificates of its
-- signing keys in `certificates` (base64 DER; NULL for the other kinds).
-- Locks: the ALTER takes an ACCESS EXCLUSIVE lock on connections for a moment (a nullable
-- column without a default rewrites nothing, and the new CHECK is NOT VALID, so no row is
-- scanned), then VALIDATE checks the rows under a SHARE UPDATE EXCLUSIVE lock, which lets
-- reads and writes of connections go on.
ALTER TABLE connections
    ADD COLUMN certificates jsonb,
    DROP CONSTRAINT connections_protocol_check,
    ADD CONSTRAINT connections_protocol_check
        CHECK (protocol IN ('oidc', 'oauth2', 'saml')) NOT VALID;
ALTER TABLE connections VALIDATE CONSTRAINT connections_protocol_check;
