//! The protocol: discovery, keys, authorization, tokens and userinfo. Knows nothing of HTML
//! beyond the `form_post` response mode.

pub mod access_token;
mod authorization_request;
pub mod authorize;
pub mod backchannel;
mod client_auth;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod introspect;
mod issue;
pub mod jwt;
pub mod logout;
pub mod pages;
pub mod par;
pub mod pkce;
pub mod registration;
mod request_object;
pub mod revoke;
pub mod scopes;
pub mod token;
pub mod userinfo;

use crate::domain::{Client, Tenant};
use crate::error::AppResult;
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use error::OAuthError;
use std::collections::HashMap;
use std::sync::Arc;

/// Parameters that may be repeated, their values kept in order and separated by spaces:
/// RFC 8707 §2 `resource`, whose values are absolute URIs (which hold no space), and RFC 8693
/// §2.1 `audience`, whose values are compared with registered resources.
const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// Parses `application/x-www-form-urlencoded` input, refusing repeated parameters
/// (RFC 6749 §3.1 and §3.2: parameters MUST NOT be included more than once) except the
/// [`REPEATABLE`] ones.
pub fn parse_params(raw: &str) -> Result<HashMap<String, String>, String> {
    use std::collections::hash_map::Entry;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| "the parameters are not valid form encoding".to_string())?;
    let mut map = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        match map.entry(k) {
            Entry::Vacant(entry) => {
                entry.insert(v);
            }
            Entry::Occupied(mut entry) if REPEATABLE.contains(&entry.key().as_str()) => {
                let values = entry.get_mut();
                values.push(' ');
                values.push_str(&v);
            }
            Entry::Occupied(entry) => return Err(format!("parameter {} is repeated", entry.key())),
        }
    }
    Ok(map)
}

/// The parameters of a client's POST to the token, introspection or revocation endpoint, which
/// must be form-encoded (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1).
pub fn form_params(headers: &HeaderMap, body: &str) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    parse_params(body).map_err(OAuthError::invalid_request)
}

/// RFC 8707 §2: the resources a client asks a token for (`resource`, which may be repeated),
/// each one it registered; none when it names none.
pub fn requested_resources(
    params: &HashMap<String, String>,
    client: &Client,
) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = params.get("resource") else {
        return Ok(Vec::new());
    };
    let mut resources: Vec<String> = Vec::new();
    for resource in raw.split(' ') {
        if !client.resources.iter().any(|known| known == resource) {
            return Err(OAuthError::invalid_target(
                "a resource is not registered for this client",
            ));
        }
        if !resources.iter().any(|r| r == resource) {
            resources.push(resource.to_owned());
        }
    }
    Ok(resources)
}

/// What people and clients of a suspended tenant are told.
pub const SUSPENDED: &str = "This organisation is suspended";

/// The tenant named in the URL, if it exists and accepts sign-ins.
pub async fn tenant_by_slug(state: &AppState, raw: &str) -> AppResult<Option<Arc<Tenant>>> {
    Ok(any_tenant_by_slug(state, raw)
        .await?
        .filter(|t| t.accepts_sign_ins()))
}

/// The tenant named in the URL whatever its status (a suspended one included), so the endpoints
/// that refuse it can say why.
pub async fn any_tenant_by_slug(state: &AppState, raw: &str) -> AppResult<Option<Arc<Tenant>>> {
    let Ok(slug) = crate::domain::TenantSlug::parse(raw) else {
        return Ok(None);
    };
    Ok(state.store.tenants.shared_by_slug(&slug).await?)
}
