//! JWT access tokens (RFC 9068): their claims, and the check every endpoint that accepts one
//! makes: our signature, our issuer, not expired, and a record that is not revoked.

use super::jwt;
use crate::domain::{AccessTokenRecord, Tenant, Timestamp};
use crate::error::AppError;
use crate::state::AppState;
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.2. `aud` is the requested resources (RFC 8707), else the client.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user, or the client itself for client credentials (RFC 9068 §2.2).
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// RFC 8693 §4.1: who acts for `sub`, after a token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7519 §4.1.3: one audience as a string, several as an array.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The resources a token is for, else the client itself.
    pub fn of(resources: &[String], client_id: &str) -> Self {
        match resources {
            [] => Self::One(client_id.to_owned()),
            [one] => Self::One(one.clone()),
            many => Self::Many(many.to_vec()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let values: &[String] = match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        };
        values.iter().map(String::as_str)
    }
}

/// RFC 7800 §3.1 confirmation, by JWK SHA-256 thumbprint (RFC 9449 §6.1).
#[derive(Debug, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// The thumbprint of the DPoP key the token is bound to, if it is.
    pub fn bound_key(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }

    /// RFC 9449 §5 and §6.2: how the token is presented.
    pub fn token_type(&self) -> &'static str {
        token_type(self.bound_key())
    }
}

/// `DPoP` for a token bound to a key, else `Bearer`.
pub fn token_type(bound_key: Option<&str>) -> &'static str {
    if bound_key.is_some() {
        "DPoP"
    } else {
        "Bearer"
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
