use crate::domain::AuditEvent;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts},
};
use std::{convert::Infallible, net::SocketAddr};

/// Where a request came from, for audit events and logs.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect::<String>())
        };
        Self {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: header(header::USER_AGENT.as_str()),
            request_id: header("x-request-id"),
        }
    }

    /// `event` with the request's origin.
    pub fn stamp(&self, mut event: AuditEvent) -> AuditEvent {
        event.ip = self.ip.clone();
        event.user_agent = self.user_agent.clone();
        event.request_id = self.request_id.clone();
        event
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}
