//! Stored text back into domain values, the same way for every backend: a value that no
//! longer passes its type's rules is reported as corrupt, never trusted.

use super::{StoreError, StoreResult};
use crate::domain::{
    ClientType, Email, FactorKind, GrantType, KeyState, Outcome, Permission, Preset, Protocol,
    RedirectUri, SigningAlg, TenantSlug, TenantStatus, TokenAuthMethod,
};
use std::str::FromStr;

fn corrupt(what: &str, raw: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what} {raw:?}"))
}

/// Ids and other values with a `FromStr`.
pub fn parse<T: FromStr>(raw: &str) -> StoreResult<T> {
    raw.parse().map_err(|_| corrupt("value", raw))
}

pub fn permission(raw: &str) -> StoreResult<Permission> {
    Permission::parse(raw).map_err(|_| corrupt("permission", raw))
}

pub fn slug(raw: &str) -> StoreResult<TenantSlug> {
    TenantSlug::parse(raw).map_err(|_| corrupt("tenant slug", raw))
}

pub fn tenant_status(raw: &str) -> StoreResult<TenantStatus> {
    TenantStatus::parse(raw).ok_or_else(|| corrupt("tenant status", raw))
}

pub fn email(raw: &str) -> StoreResult<Email> {
    Email::parse(raw).map_err(|_| corrupt("email address", raw))
}

pub fn client_type(raw: &str) -> StoreResult<ClientType> {
    ClientType::parse(raw).ok_or_else(|| corrupt("client type", raw))
}

pub fn auth_method(raw: &str) -> StoreResult<TokenAuthMethod> {
    TokenAuthMethod::parse(raw).ok_or_else(|| corrupt("token endpoint auth method", raw))
}

pub fn grant_types(raw: &[String]) -> StoreResult<Vec<GrantType>> {
    raw.iter()
        .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant type", g)))
        .collect()
}

pub fn redirect_uris(raw: &[String]) -> StoreResult<Vec<RedirectUri>> {
    raw.iter()
        .map(|u| RedirectUri::parse(u).map_err(|_| corrupt("redirect URI", u)))
        .collect()
}

pub fn outcome(raw: &str) -> StoreResult<Outcome> {
    match raw {
        "success" => Ok(Outcome::Success),
        "failure" => Ok(Outcome::Failure),
        _ => Err(corrupt("audit outcome", raw)),
    }
}

pub fn signing_alg(raw: &str) -> StoreResult<SigningAlg> {
    SigningAlg::parse(raw).ok_or_else(|| corrupt("signing algorithm", raw))
}

pub fn key_state(raw: &str) -> StoreResult<KeyState> {
    KeyState::parse(raw).ok_or_else(|| corrupt("key state", raw))
}

pub fn factor_kind(raw: &str) -> StoreResult<FactorKind> {
    FactorKind::parse(raw).ok_or_else(|| corrupt("factor kind", raw))
}

pub fn preset(raw: &str) -> StoreResult<Preset> {
    Preset::parse(raw).ok_or_else(|| corrupt("connection preset", raw))
}

/// A connection's protocol from its kind and the addresses stored beside it, in the order of
/// `store::protocol_columns`: only those of its kind may be present.
pub fn protocol(
    kind: &str,
    addresses: [Option<String>; 4],
    certificates: Option<Vec<String>>,
) -> StoreResult<Protocol> {
    match (kind, addresses, certificates) {
        ("oidc", [Some(issuer), None, None, None], None) => Ok(Protocol::Oidc { issuer }),
        ("saml", [Some(entity_id), Some(sso_url), None, None], Some(certificates)) => {
            Ok(Protocol::Saml {
                entity_id,
                sso_url,
                certificates,
            })
        }
        ("oauth2", [None, Some(authorization), Some(token), Some(userinfo)], None) => {
            Ok(Protocol::OAuth2 {
                authorization_endpoint: authorization,
                token_endpoint: token,
                userinfo_endpoint: userinfo,
            })
        }
        _ => Err(corrupt("connection protocol", kind)),
    }
}
