//! What operators watch: `/metrics` in the Prometheus text format (counted by route, never by
//! tenant), its optional bearer token, and JSON logs whose lines carry the request id.
#![cfg(feature = "ssr")]

mod common;

use common::{backends, location, process, TestServer, PASSWORD};
use reqwest::{header, StatusCode};
use std::collections::{BTreeMap, HashMap};
use tessera::domain::GrantType;

/// One sample of a scrape: its metric name, labels and value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(scrape: &str) -> Vec<Sample> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the sample `name` with (at least) `labels`; 0 when there is none.
fn value(scrape: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(server: &TestServer) -> (String, Vec<Sample>) {
    let response = server
        .http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let parsed = samples(&text);
    (text, parsed)
}

/// Requests, tokens, sign-ins and the store's gauges are counted; labels name routes, grant
/// types and results, never the tenant, the person or the application.
#[tokio::test]
async fn metrics_count_requests_tokens_and_sign_ins_by_route() {
    let (server, _) = TestServer::with_alice().await;
    let svc = server
        .client_with(
            "default",
            "svc",
            false,
            &[GrantType::ClientCredentials],
            &[],
            &[],
        )
        .await;
    let secret = svc.secret.unwrap();
    assert_eq!(
        server.client_credentials("default", "svc", &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        server.client_credentials("default", "svc", &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        server.client_credentials("default", "svc", "wrong").await,
        StatusCode::UNAUTHORIZED
    );
    let browser = server.browser();
    let refused = browser
        .sign_in("/t/default/login", "alice@example.com", "not the password")
        .await;
    assert!(location(&refused).unwrap().contains("error=incorrect"));
    let signed_in = browser
        .sign_in("/t/default/login", "alice@example.com", PASSWORD)
        .await;
    assert!(signed_in.status().is_redirection());
    for _ in 0..3 {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            server.issuer("default")
        );
        let response = server.http().get(discovery).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let missing = server
        .http()
        .get(format!("{}/no/such/page", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let (text, scrape) = scrape(&server).await;
    let requests = |route, method, status| {
        value(
            &scrape,
            "tessera_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/t/{slug}/token", "POST", "200"), 2.0, "{text}");
    assert_eq!(requests("/t/{slug}/token", "POST", "401"), 1.0);
    // Answered ahead of the router or through it: one route either way.
    assert_eq!(
        requests("/t/{slug}/.well-known/openid-configuration", "GET", "200"),
        3.0
    );
    assert_eq!(requests("fallback", "GET", "404"), 1.0);
    let token_latency = [("route", "/t/{slug}/token")];
    assert_eq!(
        value(
            &scrape,
            "tessera_http_request_duration_seconds_count",
            &token_latency
        ),
        3.0
    );
    assert!(
        value(
            &scrape,
            "tessera_http_request_duration_seconds_sum",
            &token_latency
        ) > 0.0
    );
    assert_eq!(
        value(
            &scrape,
            "tessera_http_request_duration_seconds_bucket",
            &[("route", "/t/{slug}/token"), ("le", "+Inf")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &scrape,
            "tessera_tokens_issued_total",
            &[("grant", "client_credentials")]
        ),
        2.0
    );
    let sign_ins = |result| value(&scrape, "tessera_sign_ins_total", &[("result", result)]);
    assert_eq!(sign_ins("succeeded"), 1.0);
    assert_eq!(sign_ins("failed_password"), 1.0);
    assert_eq!(
        value(
            &scrape,
            "tessera_audit_events_total",
            &[("action", "login.succeeded"), ("outcome", "success")]
        ),
        1.0
    );
    let store = backends::selected();
    let pool_max = value(
        &scrape,
        "tessera_store_connections_max",
        &[("store", &format!("main ({store})"))],
    );
    if store != "mongodb" {
        assert!(pool_max >= 1.0, "{text}");
    }
    assert!(scrape.iter().any(|s| s.name == "tessera_jobs_waiting"));
    assert!(scrape
        .iter()
        .any(|s| s.name == "tessera_tenant_databases_open"));
    assert!(scrape.iter().any(|s| s.name == "tessera_jobs_due"));

    // Bounded cardinality: no tenant, person or application in any label.
    for sample in &scrape {
        for v in sample.labels.values() {
            for private in ["default", "alice", "svc", "app"] {
                assert!(
                    !v.split(|c: char| !c.is_alphanumeric())
                        .any(|w| w == private),
                    "{} has the label value {v}",
                    sample.name
                );
            }
        }
    }
}

/// With TESSERA_METRICS_TOKEN, only a request bearing the token gets the figures.
#[tokio::test]
async fn the_metrics_token_guards_the_scrape() {
    let token = "a-long-enough-metrics-token-1234";
    let server = TestServer::start_with(None, vec![("TESSERA_METRICS_TOKEN", token.into())]).await;
    let url = format!("{}/metrics", server.base);
    let http = server.http();
    for presented in [None, Some("wrong-token-wrong-token"), Some("a-long-enough")] {
        let mut request = http.get(&url);
        if let Some(t) = presented {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{presented:?}");
        assert!(response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert!(!response.text().await.unwrap().contains("tessera_"));
    }
    let response = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("tessera_http_requests_total"));

    let vars = HashMap::from([("TESSERA_METRICS_TOKEN", "short".to_owned())]);
    let refused = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
    assert_eq!(refused.var, "TESSERA_METRICS_TOKEN");
    let vars = HashMap::from([("TESSERA_LOG_FORMAT", "xml".to_owned())]);
    let refused = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
    assert_eq!(refused.var, "TESSERA_LOG_FORMAT");
}

/// `TESSERA_LOG_FORMAT=json`: every line is a JSON object, and every line logged while a
/// request is served carries that request's id, the one its response names.
#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let storage = backends::provision("sqlite").await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let mut vars: HashMap<&str, String> = storage.vars.iter().cloned().collect();
    vars.extend([
        (
            "TESSERA_ENCRYPTION_KEY",
            tessera::crypto::EncryptionKey::generate().1,
        ),
        (
            "MAIL_DEV_DIR",
            dir.path().join("mail").display().to_string(),
        ),
        ("TESSERA_LOG_FORMAT", "json".into()),
        // The request layer's own lines (debug) show that every line of a request has its id.
        ("RUST_LOG", "info,tower_http=debug".into()),
    ]);
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = process::spawn_logging(&vars, "http://localhost:3000", log.into());
    process::wait_until_ready(&mut server).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for path in ["/t/default/login", "/t/nobody/token", "/healthz"] {
        let response = http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{log}");
    let of_requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("tower_http"))
        })
        .collect();
    assert!(!of_requests.is_empty(), "{log}");
    for line in &of_requests {
        let id = line["span"]["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request id: {line}"));
        assert!(!id.is_empty() && id != "-", "{line}");
    }
    for id in &ids {
        let with_id = of_requests
            .iter()
            .filter(|l| l["span"]["request_id"] == id.as_str())
            .count();
        assert!(with_id >= 2, "request {id} has {with_id} lines: {log}");
    }
}
