//! What `/metrics` reports, recorded where it happens (`metrics` macros) and rendered in the
//! Prometheus text format by `metrics-exporter-prometheus`. Every label comes from a small
//! fixed set (routes as the router spells them, status codes, grant types, results), never a
//! tenant, user or client: the number of series stays bounded however many tenants there are.

use crate::domain::{AuditEvent, Outcome};
use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram,
};
use axum::http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::{cell::RefCell, collections::HashMap, sync::OnceLock, time::Duration};

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Histograms keep their samples until they are folded into the buckets; a scrape folds them,
/// and so does this timer when nobody scrapes, so memory stays bounded.
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use (tests start several servers in one
/// process; they share it, so they compare figures before and after).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics stays empty");
        }
        describe();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            })
            .expect("a thread starts");
        handle
    })
}

fn describe() {
    describe_counter!(
        "tessera_http_requests_total",
        "HTTP requests answered, by route (as the router spells it), method and status."
    );
    describe_histogram!(
        "tessera_http_request_duration_seconds",
        ::metrics::Unit::Seconds,
        "Time from a request's arrival to its response's head, by route."
    );
    describe_counter!(
        "tessera_tokens_issued_total",
        "Token responses of the token endpoint, by grant type."
    );
    describe_counter!(
        "tessera_sign_ins_total",
        "Sign-in attempts by result: succeeded, or failed at the password or the second factor."
    );
    describe_counter!(
        "tessera_second_factor_failures_total",
        "Wrong or refused second factors (codes, passkeys, backup codes)."
    );
    describe_counter!(
        "tessera_audit_events_total",
        "Audit events recorded, by action and outcome."
    );
    describe_gauge!(
        "tessera_store_connections",
        "Connections of a store's pool (SQLite, PostgreSQL), in use or idle, at the last scrape."
    );
    describe_gauge!(
        "tessera_store_connections_max",
        "The most connections a store's pool opens."
    );
    describe_gauge!(
        "tessera_jobs_waiting",
        "Queued jobs (e.g. back-channel logout deliveries) of every tenant, at the last scrape."
    );
    describe_gauge!(
        "tessera_jobs_due",
        "Queued jobs that are due and not leased: the backlog the workers have yet to take."
    );
    describe_gauge!(
        "tessera_tenant_databases_open",
        "Tenants' own databases this process holds open (at most TESSERA_TENANT_DATABASES_OPEN)."
    );
}

/// The counter and histogram of one (route, method, status).
struct RequestSeries {
    method: &'static str,
    status: u16,
    count: Counter,
    latency: Histogram,
}

thread_local! {
    /// Each runtime thread's handles by route: registering a series (building its key,
    /// hashing its labels, looking it up under a lock) cost more than the cheapest requests
    /// themselves (bench/run.sh: discovery and JWKS fell by a tenth); a handle once found
    /// counts with atomics only. Bounded: routes, methods and statuses are few.
    static REQUEST_SERIES: RefCell<HashMap<String, Vec<RequestSeries>>> = RefCell::default();
}

/// One answered request. `route` is the router's pattern (`/t/{slug}/token`), or
/// `fallback` for a path no route names.
pub fn request(route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
    let method = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        // A client may send any token as a method: one label for all the others.
        _ => "other",
    };
    let status = status.as_u16();
    REQUEST_SERIES.with_borrow_mut(|routes| {
        let series = match routes.get_mut(route) {
            Some(series) => series,
            None => routes.entry(route.to_owned()).or_default(),
        };
        let index = match series
            .iter()
            .position(|s| s.status == status && s.method == method)
        {
            Some(index) => index,
            None => {
                series.push(RequestSeries {
                    method,
                    status,
                    count: counter!(
                        "tessera_http_requests_total",
                        "route" => route.to_owned(),
                        "method" => method,
                        "status" => status.to_string(),
                    ),
                    latency: histogram!(
                        "tessera_http_request_duration_seconds",
                        "route" => route.to_owned()
                    ),
                });
                series.len() - 1
            }
        };
        let found = &series[index];
        found.count.increment(1);
        found.latency.record(elapsed.as_secs_f64());
    });
}

/// A token response sent for `grant_type` (RFC 6749 §5.1).
pub fn token_issued(grant_type: &'static str) {
    counter!("tessera_tokens_issued_total", "grant" => grant_type).increment(1);
}

/// An audit event, counted by action and outcome; sign-ins and second-factor failures also
/// under names of their own. Actions are the code's own dotted names: a fixed set.
pub fn audited(event: &AuditEvent) {
    let outcome = event.outcome.as_str();
    counter!("tessera_audit_events_total", "action" => event.action.clone(), "outcome" => outcome)
        .increment(1);
    match (event.action.as_str(), event.outcome) {
        ("login.succeeded", _) => {
            counter!("tessera_sign_ins_total", "result" => "succeeded").increment(1)
        }
        ("login.password", Outcome::Failure) => {
            counter!("tessera_sign_ins_total", "result" => "failed_password").increment(1)
        }
        ("login.second_factor", Outcome::Failure) => {
            counter!("tessera_sign_ins_total", "result" => "failed_second_factor").increment(1);
            counter!("tessera_second_factor_failures_total").increment(1);
        }
        _ => {}
    }
}

/// A store's pool at a scrape; `store` names it as `/readyz` does.
pub fn pool(store: &str, in_use: u32, idle: u32, max: u32) {
    let gauge_of = |state: &'static str| gauge!("tessera_store_connections", "store" => store.to_owned(), "state" => state);
    gauge_of("in_use").set(in_use);
    gauge_of("idle").set(idle);
    gauge!("tessera_store_connections_max", "store" => store.to_owned()).set(max);
}

/// Tenants' own databases open at a scrape.
pub fn tenant_databases(open: u64) {
    gauge!("tessera_tenant_databases_open").set(open as f64);
}

/// The job queue at a scrape.
pub fn jobs(waiting: u64, due: u64) {
    gauge!("tessera_jobs_waiting").set(waiting as f64);
    gauge!("tessera_jobs_due").set(due as f64);
}
