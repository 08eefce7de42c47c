//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole family and the
//! access tokens issued from it (§2.1). The answer is 200 for any token, valid or not (§2.2),
//! and also for a token of another client, which is left alone: telling the difference would
//! tell the caller that the token exists.

use super::access_token::{self, Rejected};
use super::client_auth::{client_request, ClientRequest};
use super::error::{Fault, OAuthError};
use crate::crypto::refresh_token_key;
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Outcome, Timestamp};
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

pub async fn revoke(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    match handle(&state, &slug, &meta, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
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
) -> Result<(), OAuthError> {
    let internal = |e: &dyn Fault| OAuthError::internal(meta, e);
    let ClientRequest {
        tenant,
        client,
        params,
    } = client_request(state, slug, "revoke", meta, headers, body).await?;
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    if token.len() > 8192 {
        return Ok(());
    }
    let now = Timestamp::now();
    let artifacts = &state.store.artifacts;
    let (what, revoked) = if token.contains('.') {
        let record = match access_token::validate(state, &tenant, token).await {
            Ok((_, record)) if record.client_id == client.client_id => record,
            Ok(_) | Err(Rejected::Invalid(_)) => return Ok(()),
            Err(Rejected::Failed(e)) => return Err(internal(&e)),
        };
        let revoked = artifacts
            .revoke_access_token(tenant.id, &record.jti, now)
            .await
            .map_err(|e| internal(&e))?;
        (format!("access token {}", record.jti), u64::from(revoked))
    } else {
        let found = artifacts
            .refresh_token(tenant.id, &refresh_token_key(token))
            .await
            .map_err(|e| internal(&e))?;
        let Some(refresh) = found.filter(|t| t.client_id == client.client_id) else {
            return Ok(());
        };
        let revoked = artifacts
            .revoke_refresh_family(tenant.id, &refresh.family_id, now)
            .await
            .map_err(|e| internal(&e))?;
        (
            format!("refresh token family of user:{}", refresh.user_id),
            revoked,
        )
    };
    let event = AuditEvent::new(
        tenant.id,
        "token.revoked",
        Outcome::Success,
        format!("client:{}", client.client_id),
    )
    .target(what)
    .reason(format!("{revoked} token(s) revoked"));
    state.audit(event, meta).await;
    Ok(())
}
