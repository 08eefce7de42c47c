//! The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750) and DPoP-bound ones
//! (RFC 9449 §7).

use super::access_token::{self, AccessClaims, Rejected};
use super::dpop::{self, dpop_challenge, Expected};
use super::{
    any_tenant_by_slug,
    error::{Fault, OAuthError},
    parse_params, scopes,
};
use crate::domain::RequestMeta;
use crate::domain::Tenant;
use crate::domain::UserId;
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::Value;

pub async fn userinfo_get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    respond(&state, &slug, &meta, &headers, None).await
}

/// How the access token came: RFC 6750's bearer scheme (or form body), or RFC 9449's DPoP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    DPoP,
}

pub async fn userinfo_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    respond(&state, &slug, &meta, &headers, Some(body)).await
}

async fn respond(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: Option<String>,
) -> Response {
    match claims(state, slug, meta, headers, body).await {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 6750 §2.1 (header) and §2.2 (form body), or RFC 9449 §7.1 (`DPoP` header scheme); one
/// method only (RFC 6750 §2). Query tokens are refused.
fn presented_token(
    headers: &HeaderMap,
    body: Option<&str>,
) -> Result<(Scheme, String), OAuthError> {
    let from_header = headers.get(header::AUTHORIZATION).map(|v| {
        let value = v.to_str().ok().unwrap_or_default();
        let (scheme, token) = value.split_once(' ').unwrap_or_default();
        let token = token.trim().to_owned();
        // RFC 9110 §11.1: the scheme is case-insensitive.
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            Ok((Scheme::Bearer, token))
        } else if scheme.eq_ignore_ascii_case("dpop") && !token.is_empty() {
            Ok((Scheme::DPoP, token))
        } else {
            Err(OAuthError::invalid_request(
                "the Authorization header is not a Bearer or DPoP token",
            ))
        }
    });
    let from_body = match body.filter(|b| !b.is_empty()) {
        Some(b) => parse_params(b)
            .map_err(OAuthError::invalid_request)?
            .remove("access_token"),
        None => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "send the token once, not in both header and body",
        )),
        (Some(token), None) => token,
        (None, Some(token)) => Ok((Scheme::Bearer, token)),
        // RFC 6750 §3.1: no error code when the request carried no credentials at all.
        (None, None) => {
            let mut e = OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "an access token is required",
            );
            e.challenge = Some("Bearer realm=\"tessera\"".into());
            Err(e)
        }
    }
}

async fn claims(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: Option<String>,
) -> Result<Value, OAuthError> {
    let internal = |e: &dyn Fault| OAuthError::internal(meta, e);
    let tenant = any_tenant_by_slug(state, slug)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| OAuthError::invalid_token("unknown issuer"))?;
    if !tenant.accepts_sign_ins() {
        return Err(OAuthError::invalid_token(super::SUSPENDED));
    }
    let method = if body.is_some() { "POST" } else { "GET" };
    let (scheme, token) = presented_token(headers, body.as_deref())?;
    let (access, record) = match access_token::validate(state, &tenant, &token).await {
        Ok(valid) => valid,
        Err(Rejected::Invalid(why)) => return Err(OAuthError::invalid_token(why)),
        Err(Rejected::Failed(e)) => return Err(internal(&e)),
    };
    let presentation = Presentation {
        scheme,
        token: &token,
        method,
    };
    check_binding(state, &tenant, meta, headers, &access, presentation).await?;
    let scopes: Vec<String> = access.scopes().map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        let mut e = OAuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token lacks the openid scope",
        );
        e.challenge = Some("Bearer error=\"insufficient_scope\", scope=\"openid\"".into());
        return Err(e);
    }
    let user_id: UserId = access
        .sub
        .parse()
        .map_err(|_| OAuthError::invalid_token("the token has no user"))?;
    if record.user_id != Some(user_id) {
        return Err(OAuthError::invalid_token("the token is invalid"));
    }
    let user = state
        .store
        .users
        .by_id(tenant.id, user_id)
        .await
        .map_err(|e| internal(&e))?
        .filter(|u| u.can_sign_in())
        .ok_or_else(|| OAuthError::invalid_token("the user can no longer sign in"))?;
    let mut claims = scopes::user_claims(&user, &scopes);
    claims.insert("sub".into(), Value::from(user.id.to_string()));
    Ok(Value::Object(claims))
}

/// How a token was presented at this endpoint.
struct Presentation<'a> {
    scheme: Scheme,
    token: &'a str,
    method: &'a str,
}

/// RFC 9449 §7: a token bound to a DPoP key is honoured only with the DPoP scheme and a proof
/// of that key for this request; a bearer token is never taken in the DPoP scheme (§7.2).
async fn check_binding(
    state: &AppState,
    tenant: &Tenant,
    meta: &RequestMeta,
    headers: &HeaderMap,
    access: &AccessClaims,
    presented: Presentation<'_>,
) -> Result<(), OAuthError> {
    let bound = access.bound_key();
    if presented.scheme == Scheme::Bearer {
        return match bound {
            None => Ok(()),
            Some(_) => Err(dpop_challenge(
                "invalid_token",
                "the token is bound to a DPoP key: present it with the DPoP scheme and a proof",
            )),
        };
    }
    let nonce_required = state
        .store
        .clients
        .shared_by_client_id(tenant.id, &access.client_id)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .is_some_and(|client| client.require_dpop_nonce);
    let expected = Expected {
        method: presented.method,
        url: format!("{}/userinfo", state.config.issuer(tenant.slug.as_str())),
        access_token: Some(presented.token),
        nonce_required,
    };
    let proven = dpop::proven_key(state, tenant, headers, &expected)
        .await
        .map_err(|refused| refused.at_resource(state, tenant, meta))?;
    match (proven.as_deref(), bound) {
        (None, _) => Err(dpop_challenge(
            "invalid_dpop_proof",
            "a DPoP proof must come with a DPoP token",
        )),
        (Some(proven), Some(bound)) if proven == bound => Ok(()),
        (Some(_), Some(_)) => Err(dpop_challenge(
            "invalid_token",
            "the token is bound to another key than the proof's",
        )),
        (Some(_), None) => Err(dpop_challenge(
            "invalid_token",
            "the token is not bound to a DPoP key: present it as a Bearer token",
        )),
    }
}
