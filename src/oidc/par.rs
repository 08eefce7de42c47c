//! Pushed authorization requests (RFC 9126): a client posts its authorization request here,
//! authenticated, and sends the browser to `/authorize` with only the `request_uri` it got
//! back. The request cannot be read or altered on the way, and works once.

use super::authorization_request::validate;
use super::client_auth::{client_request, ClientRequest};
use super::dpop::{self, Expected};
use super::error::OAuthError;
use super::request_object::{self, Refused};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::RequestMeta;
use crate::domain::{Client, Tenant, Timestamp};
use crate::state::AppState;
use crate::store::StoreResult;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// RFC 9126 §2.2: `request_uri` values are URNs of this form.
const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Long enough to send the browser on, short enough to be of no use to anyone else.
const LIFETIME_SECS: i64 = 90;
const KIND: &str = "pushed-request";

pub async fn push(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    match handle(&state, &slug, &meta, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<Response, OAuthError> {
    let ClientRequest {
        tenant,
        client,
        mut params,
    } = client_request(state, slug, "par", meta, headers, body).await?;
    // §2.1: the client's credentials are not part of the request it pushes.
    for credential in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(credential);
    }
    if params.contains_key("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    // RFC 9126 §3: a pushed request may be a request object (RFC 9101).
    let signed = match request_object::unpack(state, &tenant, &client, &params).await {
        Ok(Some(unpacked)) => {
            params = unpacked;
            true
        }
        Ok(None) => false,
        Err(Refused::Invalid(why)) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_object",
                why,
            ))
        }
        Err(Refused::Failed(e)) => return Err(OAuthError::internal(meta, e)),
    };
    if client.require_signed_request_object && !signed {
        return Err(OAuthError::invalid_request(
            "this client must sign its authorization requests (RFC 9101)",
        ));
    }
    params.insert("client_id".into(), client.client_id.clone());
    bind_to_proven_key(state, &tenant, &client, meta, headers, &mut params).await?;
    if params
        .get("redirect_uri")
        .is_none_or(|r| client.redirect_uri(r).is_none())
    {
        return Err(OAuthError::invalid_request(
            "redirect_uri is missing or not registered for this client",
        ));
    }
    if let Err((code, description)) = validate(&params, &client) {
        return Err(OAuthError::new(StatusCode::BAD_REQUEST, code, description));
    }
    let pushed = Pushed { params, signed };
    let request_uri = format!("{URN_PREFIX}{}", random_token(32));
    let stored = serde_json::to_string(&pushed).map_err(|e| OAuthError::internal(meta, e))?;
    state
        .store
        .artifacts
        .put_ephemeral(
            tenant.id,
            KIND,
            &sha256_hex(&request_uri),
            &stored,
            Timestamp::now().plus_secs(LIFETIME_SECS),
        )
        .await
        .map_err(|e| OAuthError::internal(meta, e))?;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "request_uri": request_uri, "expires_in": LIFETIME_SECS })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key, as
/// `dpop_jkt` does; when both come they must name the same key.
async fn bind_to_proven_key(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    meta: &RequestMeta,
    headers: &HeaderMap,
    params: &mut HashMap<String, String>,
) -> Result<(), OAuthError> {
    let expected = Expected {
        method: "POST",
        url: format!("{}/par", state.config.issuer(tenant.slug.as_str())),
        access_token: None,
        nonce_required: client.require_dpop_nonce,
    };
    let proven = dpop::proven_key(state, tenant, headers, &expected)
        .await
        .map_err(|refused| refused.at_token_endpoint(state, tenant, meta))?;
    match (proven, params.get("dpop_jkt")) {
        (Some(proven), Some(named)) if proven != *named => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "dpop_jkt names another key than the DPoP proof's",
        )),
        (Some(proven), _) => {
            params.insert("dpop_jkt".into(), proven);
            Ok(())
        }
        (None, _) => Ok(()),
    }
}

/// A pushed authorization request, as stored until the browser brings its `request_uri`.
#[derive(Serialize, Deserialize)]
pub struct Pushed {
    pub params: HashMap<String, String>,
    /// It came as a request object signed by the client (RFC 9101).
    pub signed: bool,
}

/// Whether `request_uri` names a pushed request (rather than a request object by reference).
pub fn is_pushed(request_uri: &str) -> bool {
    request_uri.starts_with(URN_PREFIX)
}

/// The pushed request behind `request_uri`, spent by this call, if it exists, is still valid
/// and was pushed by `client` (RFC 9126 §4).
pub async fn take(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    request_uri: &str,
) -> StoreResult<Option<Pushed>> {
    if !is_pushed(request_uri) || request_uri.len() > 256 {
        return Ok(None);
    }
    let Some(stored) = state
        .store
        .artifacts
        .take_ephemeral(tenant.id, KIND, &sha256_hex(request_uri))
        .await?
    else {
        return Ok(None);
    };
    let pushed: Pushed = serde_json::from_str(&stored.value)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    Ok(pushed
        .params
        .get("client_id")
        .is_some_and(|id| *id == client.client_id)
        .then_some(pushed))
}
