//! Token exchange (RFC 8693): a service that was sent a person's access token exchanges it for
//! one to call another API on their behalf. The new token names the person as `sub` and the
//! service as the actor (`act`, §4.1), nested when the exchanged token was itself exchanged.
//! What a client may obtain is its exchange policy: audiences and scopes, never more than the
//! exchanged token allowed.

use super::{Context, USER_SCOPES};
use crate::domain::{AccessTokenRecord, GrantType, Outcome};
use crate::oidc::access_token::{self, AccessClaims, Rejected};
use crate::oidc::error::OAuthError;
use crate::oidc::issue::{self, Grant};
use axum::response::Response;
use serde_json::{json, Value};

/// RFC 8693 §3: the one token type Tessera takes and issues.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

pub(super) async fn token_exchange(cx: &Context<'_>) -> Result<Response, OAuthError> {
    match exchange(cx).await {
        Err(refused) if refused.status.is_client_error() => {
            let target = format!("client:{}", cx.client.client_id);
            cx.audit(
                "token.exchange_refused",
                Outcome::Failure,
                target,
                Some(refused.description.clone()),
            )
            .await;
            Err(refused)
        }
        other => other,
    }
}

async fn exchange(cx: &Context<'_>) -> Result<Response, OAuthError> {
    // §2.1: the client authenticated; only one that can keep a secret acts for others.
    if cx.client.client_type != crate::domain::ClientType::Confidential {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "only confidential clients may exchange tokens",
        ));
    }
    let (subject, record) = subject(cx).await?;
    if let Some(requested) = cx.params.get("requested_token_type") {
        if requested != ACCESS_TOKEN_TYPE {
            return Err(OAuthError::invalid_request(
                "only access tokens are issued by token exchange",
            ));
        }
    }
    let actor = actor(cx, &subject).await?;
    let audiences = targets(cx)?;
    let scopes = scopes(cx, &subject)?;
    let user_id = record
        .user_id
        .ok_or_else(|| OAuthError::invalid_request("the subject token is not a person's"))?;
    let user = cx.user_who_can_sign_in(user_id).await?;
    let grant = Grant {
        grant_type: GrantType::TokenExchange,
        tenant: cx.tenant,
        client: cx.client,
        user: Some(&user),
        scopes: &scopes,
        resources: &audiences,
        auth_time: subject.auth_time.map(crate::domain::Timestamp::from_unix),
        amr: &[],
        code_hash: record.code_hash.as_deref(),
        // Revoking the grant the subject token came from revokes this one too.
        family_id: record.family_id.as_deref(),
        session_id: None,
        jkt: cx.jkt,
        act: Some(&actor),
    };
    // §2.2.1: an access token, no refresh token and no ID token.
    let mut issued = issue::tokens(cx.state, &grant, None, None, cx.now, cx.meta)
        .await
        .map_err(|e| cx.internal(e))?;
    issued.insert("issued_token_type", json!(ACCESS_TOKEN_TYPE));
    Ok(issued.into_response())
}

/// §2.1 `subject_token`: a valid access token of this tenant, sent to this client (its `aud`
/// is the client or one of the client's resources, as for introspection).
async fn subject(cx: &Context<'_>) -> Result<(AccessClaims, AccessTokenRecord), OAuthError> {
    let token = cx.required("subject_token", 8192)?;
    if cx.params.get("subject_token_type").map(String::as_str) != Some(ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::invalid_request(
            "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
        ));
    }
    let (claims, record) = valid(cx, token, "subject").await?;
    let sent_to_this_client = claims
        .aud
        .iter()
        .any(|aud| aud == cx.client.client_id || cx.client.resources.iter().any(|r| r == aud));
    if !sent_to_this_client {
        return Err(OAuthError::invalid_request(
            "the subject token was not meant for this client",
        ));
    }
    Ok((claims, record))
}

/// §4.1 `act`: the acting party, and before it whoever acted on the subject token. Without an
/// `actor_token` the client itself acts; with one, the client must be who it names.
async fn actor(cx: &Context<'_>, subject: &AccessClaims) -> Result<Value, OAuthError> {
    if let Some(token) = cx.params.get("actor_token") {
        if cx.params.get("actor_token_type").map(String::as_str) != Some(ACCESS_TOKEN_TYPE) {
            return Err(OAuthError::invalid_request(
                "actor_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ));
        }
        let (claims, _) = valid(cx, token, "actor").await?;
        if claims.sub != cx.client.client_id {
            return Err(OAuthError::invalid_request(
                "the actor token is not this client's own",
            ));
        }
    } else if cx.params.contains_key("actor_token_type") {
        return Err(OAuthError::invalid_request(
            "actor_token_type without an actor_token",
        ));
    }
    let mut act = json!({ "sub": cx.client.client_id, "client_id": cx.client.client_id });
    if let Some(earlier) = &subject.act {
        act["act"] = earlier.clone();
    }
    Ok(act)
}

/// A token of this tenant that is valid now; refused as the RFC asks (§2.2.2: invalid_request).
async fn valid(
    cx: &Context<'_>,
    token: &str,
    role: &str,
) -> Result<(AccessClaims, AccessTokenRecord), OAuthError> {
    if token.len() > 8192 {
        return Err(OAuthError::invalid_request(format!(
            "the {role} token is too long"
        )));
    }
    match access_token::validate(cx.state, cx.tenant, token).await {
        Ok(valid) => Ok(valid),
        Err(Rejected::Invalid(why)) => Err(OAuthError::invalid_request(format!(
            "the {role} token is not valid: {why}"
        ))),
        Err(Rejected::Failed(e)) => Err(cx.internal(e)),
    }
}

/// §2.1 `audience` and `resource`, each one the policy allows; at least one.
fn targets(cx: &Context<'_>) -> Result<Vec<String>, OAuthError> {
    let mut targets: Vec<String> = Vec::new();
    for name in ["audience", "resource"] {
        for target in cx.params.get(name).into_iter().flat_map(|v| v.split(' ')) {
            if !cx.client.exchange.audiences.iter().any(|a| a == target) {
                return Err(OAuthError::invalid_target(
                    "this client may not obtain tokens for that audience",
                ));
            }
            if !targets.iter().any(|t| t == target) {
                targets.push(target.to_owned());
            }
        }
    }
    if targets.is_empty() {
        return Err(OAuthError::invalid_request(
            "name the audience or resource the new token is for",
        ));
    }
    Ok(targets)
}

/// The scopes asked for (else every one allowed): each in the policy and granted to the
/// subject token, and none of signing in (no ID or refresh token comes from an exchange).
fn scopes(cx: &Context<'_>, subject: &AccessClaims) -> Result<Vec<String>, OAuthError> {
    let allowed: Vec<&str> = subject
        .scopes()
        .filter(|s| !USER_SCOPES.contains(s))
        .filter(|s| cx.client.exchange.scopes.iter().any(|p| p == s))
        .collect();
    let scopes: Vec<String> = match cx.requested_scopes() {
        None => allowed.iter().map(|s| s.to_string()).collect(),
        Some(requested) => {
            if requested.iter().any(|s| !allowed.contains(&s.as_str())) {
                return Err(OAuthError::invalid_scope(
                    "a requested scope is outside what the subject token and this client's policy allow",
                ));
            }
            requested
        }
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "the subject token grants no scope this client may obtain",
        ));
    }
    Ok(scopes)
}
