//! `/metrics` in the Prometheus text format, and the middleware that counts and times every
//! request by its route.

use crate::domain::Timestamp;
use crate::state::{metrics, AppState};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::time::Instant;
use subtle::ConstantTimeEq;

/// The route label of a request no route matched (static files, unknown paths).
const FALLBACK: &str = "fallback";

/// Counts and times a request under its route's pattern: the router's own spelling
/// (`/t/{slug}/token`), so one series serves every tenant.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    metrics::request(
        route.as_ref().map_or(FALLBACK, MatchedPath::as_str),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

/// The figures of this process, with the store's gauges read now. With `TESSERA_METRICS_TOKEN`
/// set, only for a request bearing it (RFC 6750 §2.1); a store that does not answer leaves its
/// gauges as they were and is logged, so a scrape still shows the rest.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
                "This endpoint needs the metrics token (TESSERA_METRICS_TOKEN) as a bearer token.\n",
            )
                .into_response();
        }
    }
    for probe in &state.store.probes {
        if let Some(pool) = probe.target.pool_use() {
            metrics::pool(&probe.name, pool.in_use, pool.idle, pool.max);
        }
    }
    if let Some(placements) = &state.store.placements {
        metrics::tenant_databases(placements.open_databases());
    }
    match state.store.jobs.backlog(Timestamp::now()).await {
        Ok(backlog) => metrics::jobs(backlog.waiting, backlog.due),
        Err(e) => tracing::warn!(error = %e, "metrics: the job backlog could not be read"),
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics::recorder().render(),
    )
        .into_response()
}
