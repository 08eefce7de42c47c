//! The token endpoint (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3).

use super::{error::OAuthError, jwt, parse_params, pkce, scopes, tenant_by_slug};
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::{
    AccessTokenRecord, AuditEvent, Client, ClientType, GrantType, Outcome, Tenant, Timestamp,
};
use crate::http::RequestMeta;
use crate::state::AppState;
use crate::store::Redemption;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub async fn token(
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
    let internal = |e: &dyn std::fmt::Display| OAuthError::internal(meta, e);
    let tenant = tenant_by_slug(state, slug)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| {
            OAuthError::new(
                axum::http::StatusCode::NOT_FOUND,
                "invalid_request",
                "unknown issuer",
            )
        })?;
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
    let params = parse_params(body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(state, &tenant, headers, &params, meta).await?;
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            authorization_code(state, &tenant, &client, &params, meta).await
        }
        Some("refresh_token" | "client_credentials") => Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this grant type is not supported yet",
        )),
        Some(_) => Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unknown grant_type",
        )),
        None => Err(OAuthError::invalid_request("grant_type is missing")),
    }
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

async fn authorization_code(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    params: &HashMap<String, String>,
    meta: &RequestMeta,
) -> Result<Response, OAuthError> {
    let internal = |e: &dyn std::fmt::Display| OAuthError::internal(meta, e);
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may not use this grant",
        ));
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= 256)
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    let code_hash = sha256_hex(code);
    let now = Timestamp::now();
    let record = match state
        .store
        .artifacts
        .redeem_code(tenant.id, &code_hash, now)
        .await
        .map_err(|e| internal(&e))?
    {
        Redemption::Redeemed(record) => record,
        Redemption::AlreadyUsed(record) => {
            // RFC 6749 §4.1.2: a reused code SHOULD revoke the tokens issued from it.
            let revoked = state
                .store
                .artifacts
                .revoke_tokens_of_code(tenant.id, &code_hash, now)
                .await
                .map_err(|e| internal(&e))?;
            let event = AuditEvent::new(
                tenant.id,
                "code.replayed",
                Outcome::Failure,
                format!("client:{}", client.client_id),
            )
            .target(format!("user:{}", record.user_id))
            .reason(format!(
                "authorization code used twice; {revoked} access token(s) revoked"
            ));
            state.audit(event, meta).await;
            return Err(OAuthError::invalid_grant(
                "the authorization code has already been used",
            ));
        }
        Redemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid",
            ))
        }
    };
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.expires_at.is_before(now) || record.expires_at == now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if &record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verifier_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge signals an attack.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was used",
            ))
        }
        (None, None) => {}
    }
    let user = state
        .store
        .users
        .by_id(tenant.id, record.user_id)
        .await
        .map_err(|e| internal(&e))?
        .filter(|u| u.can_sign_in())
        .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))?;

    let keys = state
        .keys
        .for_tenant(tenant.id)
        .await
        .map_err(|e| internal(&e))?;
    let issuer = state.config.issuer(tenant.slug.as_str());
    let jti = random_token(16);
    let scope = record.scopes.join(" ");
    let expires_at = now.plus_secs(client.access_token_ttl_secs);
    let access_claims = AccessTokenClaims {
        iss: &issuer,
        sub: user.id.to_string(),
        aud: &client.client_id,
        client_id: &client.client_id,
        scope: &scope,
        jti: &jti,
        iat: now.unix(),
        exp: expires_at.unix(),
        auth_time: record.auth_time.unix(),
    };
    let access_token =
        jwt::sign(&keys, jwt::ACCESS_TOKEN_TYP, &access_claims).map_err(|e| internal(&e))?;
    state
        .store
        .artifacts
        .record_access_token(
            tenant.id,
            &AccessTokenRecord {
                jti: jti.clone(),
                tenant_id: tenant.id,
                client_id: client.client_id.clone(),
                user_id: Some(user.id),
                scopes: record.scopes.clone(),
                code_hash: Some(code_hash),
                issued_at: now,
                expires_at,
                revoked_at: None,
            },
        )
        .await
        .map_err(|e| internal(&e))?;

    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": client.access_token_ttl_secs,
        "scope": scope,
    });
    if record.scopes.iter().any(|s| s == "openid") {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(issuer));
        claims.insert("sub".into(), json!(user.id.to_string()));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert(
            "exp".into(),
            json!(now.plus_secs(client.id_token_ttl_secs).unix()),
        );
        claims.insert("iat".into(), json!(now.unix()));
        claims.insert("auth_time".into(), json!(record.auth_time.unix()));
        claims.insert("amr".into(), json!(record.amr));
        claims.insert("at_hash".into(), json!(left_half_hash(&access_token)));
        if let Some(nonce) = &record.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.extend(scopes::user_claims(&user, &record.scopes));
        let id_token = jwt::sign(&keys, "JWT", &Value::Object(claims)).map_err(|e| internal(&e))?;
        body["id_token"] = json!(id_token);
    }
    let event = AuditEvent::new(
        tenant.id,
        "token.issued",
        Outcome::Success,
        format!("client:{}", client.client_id),
    )
    .target(format!("user:{}", user.id));
    state.audit(event, meta).await;

    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// OIDC Core §3.1.3.6 `at_hash`: base64url of the left half of SHA-256 (for ES256) of the token.
fn left_half_hash(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// RFC 9068 §2.2.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    client_id: &'a str,
    scope: &'a str,
    jti: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
}
