//! What the hot paths' caches and group commit must never cost: a change is honoured at once
//! by the process that made it and within the documented bound by every other process, and a
//! token answered 200 survives a `kill -9` of the server right after.
#![cfg(feature = "ssr")]

mod common;

use common::process::{free_port, spawn, wait_until_ready, Process};
use common::{backends, TestServer};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tessera::admin::{clients::NewClient, Actor};
use tessera::domain::GrantType;
use tessera::state::AppState;
use tessera::store::cached::STALE_SECS;

/// The bound, plus time for requests in flight on a busy test machine.
fn bound() -> Duration {
    Duration::from_secs(STALE_SECS) + Duration::from_secs(3)
}

async fn token(base: &str, slug: &str, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/t/{slug}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn introspect(base: &str, client_id: &str, secret: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/t/default/introspect"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer")
}

fn service(client_id: &str) -> NewClient {
    NewClient {
        client_id: client_id.into(),
        name: "Service".into(),
        grants: vec![GrantType::ClientCredentials],
        scopes: vec!["api:read".into()],
        redirect_uris: vec!["http://127.0.0.1:8123/callback".into()],
        ..Default::default()
    }
}

/// Polls `refused` until it holds; returns how long that took, failing past the bound.
async fn refused_within_bound<F, Fut>(what: &str, mut refused: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !refused().await {
        assert!(
            start.elapsed() < bound(),
            "{what}: still honoured after {:?} (bound {STALE_SECS} s)",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_disabled_client_and_a_suspended_tenant_are_refused_at_once_by_the_same_process() {
    let server = TestServer::start().await;
    let svc = server
        .client_with(
            "acme",
            "svc",
            false,
            &[GrantType::ClientCredentials],
            &["api:read"],
            &[],
        )
        .await;
    let secret = svc.secret.unwrap();
    let tenant = server.tenant("acme").await;
    // Warm every cache: tenant, client, keys, discovery.
    assert_eq!(
        token(&server.base, "acme", "svc", &secret).await.0,
        StatusCode::OK
    );
    let discovery = format!("{}/.well-known/openid-configuration", server.issuer("acme"));
    assert_eq!(
        reqwest::get(&discovery).await.unwrap().status(),
        StatusCode::OK
    );

    tessera::admin::clients::set_disabled(&server.state, &Actor::Cli, &tenant, "svc", true)
        .await
        .unwrap();
    assert_eq!(
        token(&server.base, "acme", "svc", &secret).await.0,
        StatusCode::UNAUTHORIZED,
        "a disabled client is refused on the next request"
    );
    tessera::admin::clients::set_disabled(&server.state, &Actor::Cli, &tenant, "svc", false)
        .await
        .unwrap();
    assert_eq!(
        token(&server.base, "acme", "svc", &secret).await.0,
        StatusCode::OK
    );

    tessera::admin::platform::suspend(&server.state, &Actor::Cli, "acme")
        .await
        .unwrap();
    let (status, body) = token(&server.base, "acme", "svc", &secret).await;
    assert_ne!(status, StatusCode::OK, "a suspended tenant issues nothing");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        reqwest::get(&discovery).await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "a suspended tenant's discovery is gone at once"
    );
}

#[tokio::test]
async fn discovery_and_jwks_carry_an_etag_and_answer_304_to_it() {
    let server = TestServer::start().await;
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let url = format!("{}{path}", server.issuer("default"));
        let first = reqwest::get(&url).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "{path}: {etag}"
        );
        assert_eq!(first.headers()["cache-control"], "public, max-age=300");
        let body: Value = first.json().await.unwrap();
        assert!(body.is_object(), "{path}");

        let again = server
            .http()
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        let other = server
            .http()
            .get(&url)
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn discovery_and_jwks_from_memory_carry_the_headers_of_the_long_way() {
    let server = TestServer::start().await;
    let expected = [
        "content-type",
        "etag",
        "cache-control",
        "access-control-allow-origin",
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "x-request-id",
    ];
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let url = format!("{}{path}", server.issuer("default"));
        // The first GET fills the caches; a HEAD always takes the router and its middleware.
        assert_eq!(reqwest::get(&url).await.unwrap().status(), StatusCode::OK);
        let from_memory = reqwest::get(&url).await.unwrap();
        let long_way = server.http().head(&url).send().await.unwrap();
        for (how, response) in [("from memory", &from_memory), ("HEAD", &long_way)] {
            assert_eq!(response.status(), StatusCode::OK, "{path} {how}");
            for name in expected {
                assert!(
                    response.headers().contains_key(name),
                    "{path} {how}: no {name}"
                );
            }
        }
        for name in expected.into_iter().filter(|n| *n != "x-request-id") {
            assert_eq!(
                from_memory.headers()[name],
                long_way.headers()[name],
                "{path}: {name}"
            );
        }
        assert_ne!(
            from_memory.headers()["x-request-id"],
            long_way.headers()["x-request-id"],
            "each response has its own request id"
        );
        // A caller's own request id comes back, as on every other route.
        let traced = server
            .http()
            .get(&url)
            .header("x-request-id", "caller-chosen-id")
            .send()
            .await
            .unwrap();
        assert_eq!(traced.headers()["x-request-id"], "caller-chosen-id");
    }
}

/// The test's own handle on the store, as the command line would have: a third process.
async fn tool(vars: &HashMap<&str, String>) -> AppState {
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    tessera::cli::build_state(config, false, false)
        .await
        .unwrap()
}

fn storage_vars(
    storage: &backends::Provisioned,
    public_url: &str,
) -> HashMap<&'static str, String> {
    let mut vars: HashMap<&str, String> = storage.vars.iter().cloned().collect();
    vars.insert(
        "TESSERA_ENCRYPTION_KEY",
        tessera::crypto::EncryptionKey::generate().1,
    );
    vars.insert("TESSERA_PUBLIC_URL", public_url.to_owned());
    vars
}

#[tokio::test]
async fn changes_reach_every_process_on_postgresql_within_the_bound() {
    let storage = backends::provision("postgresql").await;
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let vars = storage_vars(&storage, &public_url);
    let mut one = spawn(&vars, &public_url);
    wait_until_ready(&mut one).await;
    let mut two = spawn(&vars, &public_url);
    wait_until_ready(&mut two).await;
    let tool = tool(&vars).await;
    let tenant = tessera::admin::tenants::find(&tool, "default")
        .await
        .unwrap();
    let (_, secret) = tessera::admin::clients::create(&tool, &Actor::Cli, &tenant, service("svc"))
        .await
        .unwrap();
    let secret = secret.unwrap();
    for process in [&one, &two] {
        assert_eq!(
            token(&process.base, "default", "svc", &secret).await.0,
            StatusCode::OK,
            "{} caches the client",
            process.base
        );
    }

    // A secret rotated with a grace period: the old one works in both until the grace ends.
    let grace = 3;
    let new_secret =
        tessera::admin::clients::rotate_secret(&tool, &Actor::Cli, &tenant, "svc", grace)
            .await
            .unwrap();
    let rotated = Instant::now();
    for process in [&one, &two] {
        let base = process.base.clone();
        refused_within_bound("the old secret after its grace", || {
            let (base, secret) = (base.clone(), secret.clone());
            async move { token(&base, "default", "svc", &secret).await.0 == StatusCode::UNAUTHORIZED }
        })
        .await;
        assert_eq!(
            token(&process.base, "default", "svc", &new_secret).await.0,
            StatusCode::OK,
            "the new secret works in {}",
            process.base
        );
    }
    assert!(
        rotated.elapsed() >= Duration::from_secs(grace as u64),
        "the old secret stopped only when its grace ended"
    );

    // Disabled by another process: both servers refuse it within the bound.
    tessera::admin::clients::set_disabled(&tool, &Actor::Cli, &tenant, "svc", true)
        .await
        .unwrap();
    for process in [&one, &two] {
        let base = process.base.clone();
        refused_within_bound("a disabled client", || {
            let (base, secret) = (base.clone(), new_secret.clone());
            async move { token(&base, "default", "svc", &secret).await.0 == StatusCode::UNAUTHORIZED }
        })
        .await;
    }

    // A suspended tenant: no tokens and no discovery, everywhere, within the bound.
    tessera::admin::clients::set_disabled(&tool, &Actor::Cli, &tenant, "svc", false)
        .await
        .unwrap();
    tessera::admin::platform::suspend(&tool, &Actor::Cli, "default")
        .await
        .unwrap();
    for process in [&one, &two] {
        let discovery = format!(
            "{}/t/default/.well-known/openid-configuration",
            process.base
        );
        refused_within_bound("a suspended tenant's discovery", || {
            let discovery = discovery.clone();
            async move { reqwest::get(&discovery).await.unwrap().status() == StatusCode::NOT_FOUND }
        })
        .await;
        let (status, _) = token(&process.base, "default", "svc", &new_secret).await;
        assert_ne!(status, StatusCode::OK, "{} issues nothing", process.base);
    }
}

/// Tokens answered 200 before a `kill -9` are all durable: after a restart each introspects as
/// active, and revocation still works on them.
async fn tokens_answered_before_a_crash_survive_it(backend: &str) {
    let storage = backends::provision(backend).await;
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let vars = storage_vars(&storage, &public_url);
    let mut server = spawn(&vars, &public_url);
    wait_until_ready(&mut server).await;
    let secret = {
        let tool = tool(&vars).await;
        let tenant = tessera::admin::tenants::find(&tool, "default")
            .await
            .unwrap();
        let (_, secret) =
            tessera::admin::clients::create(&tool, &Actor::Cli, &tenant, service("svc"))
                .await
                .unwrap();
        secret.unwrap()
    };

    // A burst from 32 clients at once; the server is killed in the middle of it.
    let base = server.base.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (base, secret) = (base.clone(), secret.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answered = Vec::new();
                while Instant::now() < deadline {
                    let sent = http
                        .post(format!("{base}/t/default/token"))
                        .basic_auth("svc", Some(&secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status() != StatusCode::OK {
                        continue;
                    }
                    match response.json::<Value>().await {
                        Ok(body) => {
                            answered.push(body["access_token"].as_str().unwrap().to_owned())
                        }
                        Err(_) => break,
                    }
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill_hard(&mut server);
    let mut answered = Vec::new();
    for worker in workers {
        answered.extend(worker.await.unwrap());
    }
    assert!(
        answered.len() >= 32,
        "the burst got tokens before the kill ({})",
        answered.len()
    );

    let mut restarted = spawn(&vars, &public_url);
    wait_until_ready(&mut restarted).await;
    for (n, access_token) in answered.iter().enumerate() {
        let answer = introspect(&restarted.base, "svc", &secret, access_token).await;
        assert_eq!(
            answer["active"],
            true,
            "token {n} of {} was answered 200 before the crash but is lost: {answer}",
            answered.len()
        );
    }
    let last = answered.last().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/t/default/revoke", restarted.base))
        .basic_auth("svc", Some(&secret))
        .form(&[("token", last.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        introspect(&restarted.base, "svc", &secret, last).await["active"],
        false,
        "revocation works on a token from before the crash"
    );
}

/// SIGKILL: no shutdown, no flush; whatever was not durable is gone.
fn kill_hard(process: &mut Process) {
    process.child.kill().expect("SIGKILL");
    process.child.wait().expect("the process is gone");
}

#[tokio::test]
async fn tokens_answered_before_a_crash_survive_it_on_sqlite() {
    tokens_answered_before_a_crash_survive_it("sqlite").await;
}

#[tokio::test]
async fn tokens_answered_before_a_crash_survive_it_on_postgresql() {
    tokens_answered_before_a_crash_survive_it("postgresql").await;
}
