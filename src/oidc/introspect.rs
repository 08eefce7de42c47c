//! Token introspection (RFC 7662) for authenticated clients. A client learns about a token
//! only when the token was issued to it, or when it is the resource the token is meant for
//! (an `aud` of the token is one of its registered resources); otherwise, as for any token that is
//! unknown, expired or revoked, the answer is `{"active": false}` and nothing more (§2.2).

use super::access_token::{self, Rejected};
use super::client_auth::{client_request, ClientRequest};
use super::error::OAuthError;
use crate::crypto::refresh_token_key;
use crate::domain::RequestMeta;
use crate::domain::{Client, ClientType, Tenant, Timestamp};
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

pub async fn introspect(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    match handle(&state, &slug, &meta, &headers, &body).await {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<Value, OAuthError> {
    let ClientRequest {
        tenant,
        client,
        params,
    } = client_request(state, slug, "introspect", meta, headers, body).await?;
    if client.client_type != ClientType::Confidential {
        // Introspection tells what a token allows; only clients that can keep a secret ask.
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "public clients cannot introspect tokens",
        ));
    }
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let inactive = json!({ "active": false });
    if token.len() > 8192 {
        return Ok(inactive);
    }
    // Refresh tokens are opaque, access tokens are JWTs: the form decides, not the hint.
    let answer = if token.contains('.') {
        access(state, &tenant, &client, token, meta).await?
    } else {
        refresh(state, &tenant, &client, token, meta).await?
    };
    Ok(answer.unwrap_or(inactive))
}

async fn access(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    token: &str,
    meta: &RequestMeta,
) -> Result<Option<Value>, OAuthError> {
    let claims = match access_token::validate(state, tenant, token).await {
        Ok((claims, _)) => claims,
        Err(Rejected::Invalid(_)) => return Ok(None),
        Err(Rejected::Failed(e)) => return Err(OAuthError::internal(meta, e)),
    };
    let for_its_resource = claims
        .aud
        .iter()
        .any(|aud| client.resources.iter().any(|r| r == aud));
    if claims.client_id != client.client_id && !for_its_resource {
        return Ok(None);
    }
    let mut answer = json!({
        "active": true,
        "token_type": claims.token_type(),
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if let Some(auth_time) = claims.auth_time {
        answer["auth_time"] = json!(auth_time);
    }
    if let Some(act) = &claims.act {
        answer["act"] = act.clone();
    }
    // RFC 9449 §6.2: the resource server checks the proof against the bound key.
    if let Some(jkt) = claims.bound_key() {
        answer["cnf"] = json!({ "jkt": jkt });
    }
    Ok(Some(answer))
}

async fn refresh(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    token: &str,
    meta: &RequestMeta,
) -> Result<Option<Value>, OAuthError> {
    let found = state
        .store
        .artifacts
        .refresh_token(tenant.id, &refresh_token_key(token))
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .filter(|t| t.is_active(Timestamp::now()) && t.client_id == client.client_id);
    Ok(found.map(|t| {
        let mut answer = json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": t.scopes.join(" "),
            "client_id": t.client_id,
            "sub": t.user_id.to_string(),
            "iss": state.config.issuer(tenant.slug.as_str()),
            "exp": t.expires_at.min(t.family_expires_at).unix(),
            "iat": t.issued_at.unix(),
        });
        if let Some(jkt) = &t.jkt {
            answer["cnf"] = json!({ "jkt": jkt });
        }
        answer
    }))
}
