use super::{TenantId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) waiting for the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub prompt_none: bool,
    pub max_age: Option<i64>,
    /// OIDC Core §3.1.2.1: the account the client expects; prefills the sign-in form.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// OIDC Core §3.1.2.1: the authentication context classes asked for, in order of preference.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// RFC 8707 §2.1: the resources the tokens of this grant may be for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

impl AuthorizationRequest {
    /// Whether the client asked for a multi-factor sign-in (a voluntary request that this server
    /// honours by asking for a second factor: a step-up).
    pub fn wants_mfa(&self) -> bool {
        self.acr_values
            .iter()
            .any(|v| v == super::acr::MULTI_FACTOR)
    }
}

/// Where a sign-in stands. Each step accepts only the input it expects, so replaying an
/// earlier form or skipping ahead fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FlowStep {
    Identify,
    Password {
        email: String,
    },
    /// The password was right; a second factor must follow.
    SecondFactor {
        user_id: UserId,
    },
    /// The password was right, and a second factor is required that the person does not have
    /// yet: they enrol one now.
    Enrol {
        user_id: UserId,
    },
    /// Signed in within this flow; consent (if needed) and the code come next.
    Authenticated {
        user_id: UserId,
        session_id: String,
    },
}

/// One browser's walk through sign-in (and consent, when a client asked for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFlow {
    pub id: String,
    pub tenant_id: TenantId,
    /// SHA-256 of a random value held in the browser's session: binds the flow to that browser.
    pub binding_hash: String,
    pub request: Option<AuthorizationRequest>,
    pub step: FlowStep,
    /// The person refused consent; the client gets `access_denied`.
    pub denied: bool,
    /// Where a sign-in that serves no authorization request ends: a page of this tenant.
    #[serde(default)]
    pub return_to: Option<String>,
    /// The identity an upstream provider vouched for in this sign-in (`auth::upstream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamSignIn>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A sign-in through an upstream provider (a connection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSignIn {
    pub connection_id: uuid::Uuid,
    /// The connection's name, for the page that asks to link.
    pub connection_name: String,
    pub subject: String,
    pub email: Option<String>,
    /// The identity is linked to no account yet, and an account has its email: the person
    /// proves that account (its password or passkey, and its second factor), and only then is
    /// the identity linked to it. An email alone never takes over an account.
    pub link: bool,
}

impl LoginFlow {
    /// RFC 8176 method of the first step: `fed` when an upstream provider vouched for the
    /// person, `pwd` when they typed their password.
    pub fn first_method(&self) -> &'static str {
        match &self.upstream {
            Some(upstream) if !upstream.link => "fed",
            _ => "pwd",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// RFC 9449 §10: only a proof of this DPoP key redeems the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// RFC 8707 §2.1: the resources named in the authorization request; the token request
    /// may name fewer of them, never others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

/// Where a device authorization (RFC 8628) stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Waiting for the person to enter the user code and decide.
    Pending,
    Approved {
        user_id: UserId,
        session_id: String,
        auth_time: Timestamp,
        amr: Vec<String>,
    },
    Denied,
    /// The device has collected its tokens.
    Redeemed,
}

/// A device's request for authorization (RFC 8628 §3.1), stored by the hash of its device
/// code and found by the person through its user code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceGrant {
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Eight letters from an unambiguous alphabet, shown as `XXXX-XXXX`.
    pub user_code: String,
    pub status: DeviceStatus,
    /// The polling interval the device must keep to (§3.5 `slow_down` raises it).
    pub interval_secs: i64,
    pub last_polled_at: Option<Timestamp>,
    pub expires_at: Timestamp,
}

/// Every access token issued, by `jti`, so it can be revoked and introspected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    pub jti: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub user_id: Option<UserId>,
    pub scopes: Vec<String>,
    /// The authorization code it was issued for; a replayed code revokes these.
    pub code_hash: Option<String>,
    /// The refresh-token family it was issued from or with; revoking the family revokes it.
    #[serde(default)]
    pub family_id: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A refresh token (RFC 6749 §6), stored by the SHA-256 of its value. Every use rotates it:
/// the presented token is spent and a new one of the same family issued, so a spent token
/// presented again betrays a theft and revokes the family (RFC 9700 §4.14.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token_hash: String,
    pub tenant_id: TenantId,
    /// Shared by every token rotated from the same grant.
    pub family_id: String,
    pub client_id: String,
    pub user_id: UserId,
    /// The browser sign-in the grant came from.
    pub session_id: String,
    pub scopes: Vec<String>,
    /// RFC 8707 resources the grant is limited to, separated by spaces: the audiences of its
    /// access tokens.
    pub resource: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub issued_at: Timestamp,
    /// Idle expiry: unused this long after issue, the token dies.
    pub expires_at: Timestamp,
    /// Absolute expiry of the whole family, fixed when the grant was made.
    pub family_expires_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Ends with the browser sign-in `session_id`; false for offline access, which outlives it.
    #[serde(default)]
    pub session_bound: bool,
    /// RFC 9449 §5: the thumbprint of the DPoP key a public client's family is bound to; each
    /// refresh must be proven with that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl RefreshToken {
    /// The resources of [`Self::resource`], none when the grant named none.
    pub fn resources(&self) -> Vec<String> {
        self.resource
            .as_deref()
            .map(|r| r.split(' ').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Usable now: not spent, not revoked, not past either expiry.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.rotated_at.is_none()
            && self.revoked_at.is_none()
            && now.is_before(self.expires_at)
            && now.is_before(self.family_expires_at)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub granted_at: Timestamp,
}

impl Consent {
    pub fn covers(&self, scopes: &[String]) -> bool {
        scopes.iter().all(|s| self.scopes.contains(s))
    }
}

/// A JWS algorithm Tenant keys sign with (RFC 7518 §3, RFC 8037 for EdDSA).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    ES256,
    EdDSA,
    RS256,
}

impl SigningAlg {
    /// The default, and the algorithm of every access token.
    pub const DEFAULT: Self = Self::ES256;
    pub const ALL: [Self; 3] = [Self::ES256, Self::EdDSA, Self::RS256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// Where a key is in its rotation: published before it signs, signing, then published until
/// everything it signed has expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// In the JWKS; takes over signing at `activates_at`.
    Next,
    /// Signs; one per tenant and algorithm.
    Active,
    /// In the JWKS until `retires_at`, for tokens it signed; signs nothing.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Next, Self::Active, Self::Retired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A tenant's signing key. The private half is PKCS#8 (PKCS#1 for RSA) DER sealed with the
/// encryption key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    pub tenant_id: TenantId,
    pub kid: String,
    pub alg: SigningAlg,
    /// The public key as a JWK (RFC 7517) JSON object.
    pub public_jwk: String,
    pub private_key_sealed: Vec<u8>,
    pub state: KeyState,
    pub created_at: Timestamp,
    /// When a `Next` key starts signing.
    pub activates_at: Timestamp,
    /// When a `Retired` key leaves the JWKS.
    pub retires_at: Option<Timestamp>,
}

impl SigningKey {
    /// Whether it belongs in the JWKS at `now`.
    pub fn is_published(&self, now: Timestamp) -> bool {
        self.retires_at.is_none_or(|at| now.is_before(at))
    }
}
