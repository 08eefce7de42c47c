//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3, OIDC Core §9).

use super::{error::OAuthError, form_params, tenant_by_slug};
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::domain::{AuditEvent, Client, ClientType, Outcome, Tenant};
use crate::http::RequestMeta;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::{engine::general_purpose::STANDARD, Engine};
use std::collections::HashMap;

/// A client's form POST to the token, introspection or revocation endpoint, with the client
/// authenticated.
pub struct ClientRequest {
    pub tenant: Tenant,
    pub client: Client,
    pub params: HashMap<String, String>,
}

pub async fn client_request(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<ClientRequest, OAuthError> {
    let tenant = tenant_by_slug(state, slug)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .ok_or_else(OAuthError::unknown_issuer)?;
    let params = form_params(headers, body)?;
    let client = authenticate_client(state, &tenant, headers, &params, meta).await?;
    Ok(ClientRequest {
        tenant,
        client,
        params,
    })
}

/// RFC 6749 §2.3.1: `client_secret_basic` (form-encoded id and secret in HTTP Basic) or
/// `client_secret_post`; public clients send only `client_id` (`none`). One method per request.
async fn authenticate_client(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    meta: &RequestMeta,
) -> Result<Client, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(parse_basic(value).ok_or_else(|| OAuthError::invalid_client(true))?),
    };
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, params.get("client_id"), params.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, _)), Some(body_id), None) if &id != body_id => {
            return Err(OAuthError::invalid_request(
                "client_id does not match the authenticated client",
            ))
        }
        (Some((id, secret)), _, None) => (id, Some(secret)),
        (None, Some(id), secret) => (id.clone(), secret.cloned()),
        (None, None, _) => return Err(OAuthError::invalid_client(false)),
    };
    let fail = |reason: &str| {
        let event = AuditEvent::new(
            tenant.id,
            "client.authentication",
            Outcome::Failure,
            format!("client:{client_id}"),
        )
        .reason(reason.to_owned());
        (event, OAuthError::invalid_client(used_basic))
    };
    let client = state
        .store
        .clients
        .by_client_id(tenant.id, &client_id)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .filter(|c| !c.disabled);
    let verdict = match (&client, &secret) {
        (None, _) => Err("unknown client"),
        (Some(c), Some(secret)) if c.client_type == ClientType::Confidential => {
            match &c.secret_hash {
                Some(hash) if constant_time_eq(&sha256_hex(secret), hash) => Ok(()),
                _ => Err("wrong secret"),
            }
        }
        (Some(c), None) if c.client_type == ClientType::Public => Ok(()),
        (Some(_), Some(_)) => Err("public clients have no secret"),
        (Some(_), None) => Err("secret missing"),
    };
    match verdict {
        Ok(()) => Ok(client.expect("verdict Ok implies a client")),
        Err(reason) => {
            let (event, error) = fail(reason);
            state.audit(event, meta).await;
            Err(error)
        }
    }
}

fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| form_urlencoded_decode(s);
    Some((unescape(id)?, unescape(secret)?))
}

fn form_urlencoded_decode(s: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}
