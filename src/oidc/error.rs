//! OAuth error responses: RFC 6749 §5.2 for the token endpoint, RFC 6750 §3 for bearer tokens.

use crate::domain::RequestMeta;
pub use crate::error::{Fault, RETRY_AFTER_SECS};
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
    /// Set for 503s: seconds until a retry is worth it.
    pub retry_after: Option<u32>,
    /// RFC 9449 §8: the nonce a DPoP client is to put in its next proof.
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
            retry_after: None,
            dpop_nonce: None,
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

    /// Logs the detail with the request id; the client learns only the request id. A store
    /// that could not be reached is `temporarily_unavailable` (RFC 6749 §4.1.2.1) with 503 and
    /// `Retry-After`; anything else is `server_error` with 500.
    pub fn internal(meta: &RequestMeta, e: impl Fault) -> Self {
        let id = meta.request_id.as_deref();
        let reference = id
            .map(|id| format!(" (request id {id})"))
            .unwrap_or_default();
        if e.is_outage() {
            tracing::warn!(request_id = ?id, error = %e, "storage unavailable");
            let mut error = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                format!("the server is briefly unable to answer; try again shortly{reference}"),
            );
            error.retry_after = Some(RETRY_AFTER_SECS);
            return error;
        }
        tracing::error!(request_id = ?id, error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            format!("the server could not complete the request{reference}"),
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
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
        response
    }
}
