//! Builds the [`RequestMeta`] of each request.

use crate::domain::RequestMeta;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, Extensions, HeaderMap},
};
use std::{convert::Infallible, net::SocketAddr};

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        Self::from_head(&parts.headers, &parts.extensions)
    }

    /// For handlers that need it only on a rare path (an internal error), so as not to copy
    /// the address and headers on every request.
    pub fn from_head(headers: &HeaderMap, extensions: &Extensions) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect::<String>())
        };
        Self {
            ip: extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: header(header::USER_AGENT.as_str()),
            request_id: header("x-request-id"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}
