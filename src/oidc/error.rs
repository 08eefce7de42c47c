//! OAuth error responses: RFC 6749 §5.2 for the token endpoint, RFC 6750 §3 for bearer tokens.

use crate::domain::RequestMeta;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Set for 401s: the `WWW-Authenticate` challenge to send.
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// RFC 8707 §2.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", description)
    }

    pub fn unknown_issuer() -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request", "unknown issuer")
    }

    /// RFC 6749 §5.2: 401 with a challenge for the scheme the client tried.
    pub fn invalid_client(used_basic: bool) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if used_basic {
            e.challenge = Some("Basic realm=\"tessera\"".into());
        }
        e
    }

    /// RFC 6749 §5.2 `invalid_client` for every client of a suspended tenant, with the reason.
    pub fn tenant_suspended() -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_client", super::SUSPENDED);
        e.challenge = Some("Basic realm=\"tessera\"".into());
        e
    }

    /// Logs the detail with the request id; the client learns only the request id.
    pub fn internal(meta: &RequestMeta, e: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = ?meta.request_id, error = %e, "request failed");
        let description = match &meta.request_id {
            Some(id) => format!("the server could not complete the request (request id {id})"),
            None => "the server could not complete the request".to_string(),
        };
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    /// RFC 6750 §3.1.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            description.clone(),
        );
        e.challenge = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{description}\""
        ));
        e
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.code, "error_description": self.description }));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
