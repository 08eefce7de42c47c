//! RFC 9457 problem details: how the management API refuses, as `application/problem+json`.
//! Internal faults are logged with the request id, which the answer names; their text never
//! leaves the server.

use crate::domain::RequestMeta;
use crate::error::AppError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The body of every refusal (RFC 9457 §3), with two extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    /// What went wrong, in words for a person.
    detail: String,
    /// The request field the refusal is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    /// For an internal error: the id under which the server logged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    body: Box<ProblemBody>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ProblemBody {
                kind: "about:blank",
                title: status.canonical_reason().unwrap_or("Error"),
                status: status.as_u16(),
                detail: detail.into(),
                field: None,
                request_id: None,
            }),
            headers: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.body.detail
    }

    /// The headers the answer carries besides the body's (`WWW-Authenticate`, `Retry-After`).
    pub fn into_headers(self) -> Vec<(header::HeaderName, HeaderValue)> {
        self.headers
    }

    fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// No usable credentials: RFC 6750 §3 names the scheme to use.
    pub fn unauthenticated(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail).header(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="tessera", error="invalid_token""#,
        )
    }

    /// A refused DPoP presentation (RFC 9449 §7.1): the protocol's answer as a problem, with its
    /// `DPoP` challenge and, when the proof must carry a fresh nonce, `DPoP-Nonce` (§9).
    pub fn dpop(refused: crate::oidc::error::OAuthError) -> Self {
        let mut problem = Self::new(refused.status, refused.description);
        if let Some(challenge) = &refused.challenge {
            problem = problem.header(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = &refused.dpop_nonce {
            problem = problem.header(header::HeaderName::from_static("dpop-nonce"), nonce);
        }
        problem
    }

    pub fn too_many(retry_after_secs: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests with this key. Wait, then try again.",
        )
        .header(header::RETRY_AFTER, &retry_after_secs.to_string())
    }

    /// A request body, path or query that is not what the endpoint takes.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// The answer for a use case's error.
    pub fn of(e: AppError, meta: &RequestMeta) -> Self {
        match e {
            AppError::Invalid(invalid) => {
                let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, invalid.message());
                problem.body.field = invalid.field();
                problem
            }
            AppError::NotFound => Self::not_found("There is no such item here."),
            AppError::Conflict(text) => Self::new(StatusCode::CONFLICT, text),
            AppError::Forbidden | AppError::Reauthenticate => Self::new(
                StatusCode::FORBIDDEN,
                "This key does not have the permission for that.",
            ),
            AppError::Unavailable(e) => {
                tracing::warn!(request_id = ?meta.request_id, error = %e, "management API: storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is briefly unavailable. Try again shortly.",
                )
                .header(header::RETRY_AFTER, "5")
            }
            AppError::Internal(e) => {
                tracing::error!(request_id = ?meta.request_id, error = %e, "management API request failed");
                let mut problem =
                    Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.");
                problem.body.request_id = meta.request_id.clone();
                problem
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.body).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// The refusals every endpoint may answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only described, never built: `Problem` is what handlers answer
pub enum Refusals {
    #[response(
        status = 400,
        description = "The request is malformed",
        content_type = "application/problem+json"
    )]
    Malformed(ProblemBody),
    #[response(
        status = 401,
        description = "No API key, or one that is not valid, revoked, expired or of another organisation",
        content_type = "application/problem+json"
    )]
    Unauthenticated(ProblemBody),
    #[response(
        status = 403,
        description = "The key lacks the permission, or the organisation is suspended",
        content_type = "application/problem+json"
    )]
    Forbidden(ProblemBody),
    #[response(
        status = 404,
        description = "No such organisation or item (also for another organisation's ids)",
        content_type = "application/problem+json"
    )]
    NotFound(ProblemBody),
    #[response(
        status = 422,
        description = "A field breaks a rule; `field` names it",
        content_type = "application/problem+json"
    )]
    Invalid(ProblemBody),
    #[response(
        status = 429,
        description = "The key's requests per minute are used up; see Retry-After",
        content_type = "application/problem+json"
    )]
    TooMany(ProblemBody),
}
