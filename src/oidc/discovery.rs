//! OpenID Provider metadata (OIDC Discovery §3, RFC 8414 §2) and the JWK Set. Advertises only
//! what is implemented.

use super::{client_auth::ASSERTION_ALGS, scopes::CLAIMS_SUPPORTED, tenant_by_slug};
use crate::domain::{Client, SigningAlg};
use crate::http::RequestMeta;
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "error_description": "unknown issuer" })),
    )
        .into_response()
}

fn server_error(meta: &RequestMeta, e: impl std::fmt::Display) -> Response {
    super::error::OAuthError::internal(meta, e).into_response()
}

pub fn metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "require_pushed_authorization_requests": false,
        "scopes_supported": Client::KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "acr_values_supported": crate::domain::acr::SUPPORTED,
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        // request_uri is for pushed requests only (RFC 9126), not OIDC Core §6 request objects.
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

fn cacheable(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
) -> Response {
    match tenant_by_slug(&state, &slug).await {
        Ok(Some(tenant)) => cacheable(metadata(&state.config.issuer(tenant.slug.as_str()))),
        Ok(None) => not_found(),
        Err(e) => server_error(&meta, e),
    }
}

pub async fn jwks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
) -> Response {
    let tenant = match tenant_by_slug(&state, &slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return server_error(&meta, e),
    };
    match state.keys.for_tenant(tenant.id).await {
        Ok(keys) => cacheable(keys.jwks.clone()),
        Err(e) => server_error(&meta, e),
    }
}
