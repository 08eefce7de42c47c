//! The protocol: discovery, keys, authorization, tokens and userinfo. Knows nothing of HTML
//! beyond the `form_post` response mode.

pub mod authorize;
pub mod discovery;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod pkce;
pub mod scopes;
pub mod token;
pub mod userinfo;

use crate::domain::Tenant;
use crate::error::AppResult;
use crate::state::AppState;

/// Parses `application/x-www-form-urlencoded` input, refusing repeated parameters
/// (RFC 6749 §3.1 and §3.2: parameters MUST NOT be included more than once).
pub fn parse_params(raw: &str) -> Result<std::collections::HashMap<String, String>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| "the parameters are not valid form encoding".to_string())?;
    let mut map = std::collections::HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(format!("parameter {k} is repeated"));
        }
    }
    Ok(map)
}

/// The tenant named in the URL, if it exists and accepts sign-ins.
pub async fn tenant_by_slug(state: &AppState, raw: &str) -> AppResult<Option<Tenant>> {
    let Ok(slug) = crate::domain::TenantSlug::parse(raw) else {
        return Ok(None);
    };
    Ok(state
        .store
        .tenants
        .by_slug(&slug)
        .await?
        .filter(Tenant::accepts_sign_ins))
}
