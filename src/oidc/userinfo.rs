//! The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750).

use super::access_token::{self, Rejected};
use super::{
    any_tenant_by_slug,
    error::{Fault, OAuthError},
    parse_params, scopes,
};
use crate::domain::RequestMeta;
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

/// RFC 6750 §2.1 (header) and §2.2 (form body); one method only (§2). Query tokens are refused.
fn bearer_token(headers: &HeaderMap, body: Option<&str>) -> Result<String, OAuthError> {
    let from_header = headers.get(header::AUTHORIZATION).map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| {
                s.strip_prefix("Bearer ")
                    .or_else(|| s.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| {
                OAuthError::invalid_request("the Authorization header is not a Bearer token")
            })
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
        (None, Some(token)) => Ok(token),
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
    let token = bearer_token(headers, body.as_deref())?;
    let (access, record) = match access_token::validate(state, &tenant, &token).await {
        Ok(valid) => valid,
        Err(Rejected::Invalid(why)) => return Err(OAuthError::invalid_token(why)),
        Err(Rejected::Failed(e)) => return Err(internal(&e)),
    };
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
