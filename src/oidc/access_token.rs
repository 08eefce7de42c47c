//! JWT access tokens (RFC 9068): their claims, and the check every endpoint that accepts one
//! makes: our signature, our issuer, not expired, and a record that is not revoked.

use super::jwt;
use crate::domain::{AccessTokenRecord, Tenant, Timestamp};
use crate::error::AppError;
use crate::state::AppState;
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.2. `aud` is the requested resource (RFC 8707), else the client.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user, or the client itself for client credentials (RFC 9068 §2.2).
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl AccessClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// Why a presented access token is not honoured; the text is safe to send back.
pub enum Rejected {
    Invalid(&'static str),
    Failed(AppError),
}

/// The claims and record of a valid, unrevoked access token of `tenant`.
pub async fn validate(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<(AccessClaims, AccessTokenRecord), Rejected> {
    let keys = state
        .keys
        .for_tenant(tenant.id)
        .await
        .map_err(Rejected::Failed)?;
    let issuer = state.config.issuer(tenant.slug.as_str());
    let claims: AccessClaims =
        jwt::verify(&keys, token, jwt::ACCESS_TOKEN_TYP, &issuer).map_err(Rejected::Invalid)?;
    let record = state
        .store
        .artifacts
        .access_token(tenant.id, &claims.jti)
        .await
        .map_err(|e| Rejected::Failed(e.into()))?
        .filter(|r| r.revoked_at.is_none() && Timestamp::now().is_before(r.expires_at))
        .ok_or(Rejected::Invalid("the token has been revoked"))?;
    if record.client_id != claims.client_id {
        return Err(Rejected::Invalid("the token is invalid"));
    }
    Ok((claims, record))
}
