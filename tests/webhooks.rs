//! Webhooks (issue 14, part 1) end to end: endpoints managed through the API, events of the
//! audit log delivered through the outbox to a real HTTP receiver, signatures verified with
//! `standardwebhooks` (the reference library, from PyPI), retries with the same `webhook-id`,
//! the delivery log, test events and redelivery, disabling an endpoint that keeps failing, and
//! the SSRF guard. Several processes and a killed one: `multi_process.rs`.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use common::{services_python, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera::admin::{api_keys, Actor};
use tessera::domain::Tenant;

/// What the receiver answers, in turn; then 200 "thanks" for ever.
#[derive(Clone)]
enum Answer {
    Status(u16, &'static str),
    Redirect(&'static str),
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    /// Listens on 127.0.0.1; returns its base URL.
    async fn start(&self) -> String {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", socket.local_addr().unwrap());
        let routes = Router::new().fallback(receive).with_state(self.clone());
        tokio::spawn(async move { axum::serve(socket, routes).await });
        base
    }

    fn then(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().cloned());
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize, seconds: u64) -> Vec<Received> {
        for _ in 0..seconds * 10 {
            if self.seen.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = self.seen();
        assert!(
            seen.len() >= count,
            "waited {seconds} s for {count} deliveries: {seen:?}"
        );
        seen
    }
}

async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    r.seen.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let answer = r.script.lock().unwrap().pop_front();
    match answer {
        None => (AxumStatus::OK, "thanks").into_response(),
        Some(Answer::Status(code, text)) => {
            (AxumStatus::from_u16(code).unwrap(), text).into_response()
        }
        Some(Answer::Redirect(to)) => {
            (AxumStatus::TEMPORARY_REDIRECT, [("location", to)], "").into_response()
        }
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            AxumStatus::OK.into_response()
        }
    }
}

async fn server_with(vars: &[(&'static str, &str)]) -> TestServer {
    let extra = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
    TestServer::start_with(None, extra).await
}

/// A server that may call the receivers of these tests, on loopback.
async fn open_server() -> TestServer {
    server_with(&[("TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")]).await
}

async fn key(server: &TestServer, tenant: &Tenant, permissions: &[&str]) -> String {
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    api_keys::create(&server.state, &Actor::Cli, tenant, "Test", &permissions, 30)
        .await
        .expect("key")
        .secret
}

async fn call(
    server: &TestServer,
    method: Method,
    slug: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}/api/v1{path}", server.issuer(slug));
    let mut request = server.http().request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Adds an endpoint through the API; its id and secret.
async fn endpoint(server: &TestServer, key: &str, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = call(
        server,
        Method::POST,
        "acme",
        "/webhooks",
        key,
        Some(json!({ "url": url, "description": "Test receiver", "events": events })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (body["webhook"]["id"].as_str().unwrap().to_owned(), secret)
}

async fn log(server: &TestServer, key: &str, id: &str) -> Vec<Value> {
    let (status, body) = call(
        server,
        Method::GET,
        "acme",
        &format!("/webhooks/{id}/deliveries"),
        key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// The endpoint's log once it holds `count` attempts.
async fn log_of(server: &TestServer, key: &str, id: &str, count: usize) -> Vec<Value> {
    for _ in 0..300 {
        let attempts = log(server, key, id).await;
        if attempts.len() >= count {
            return attempts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the log of {id} never held {count} attempts: {:?}",
        log(server, key, id).await
    );
}

/// Runs the reference library on what the receiver got; its verdict per delivery.
async fn verified(secret: &str, deliveries: &[Received]) -> Vec<String> {
    let input = json!({
        "secret": secret,
        "deliveries": deliveries.iter().map(|d| json!({ "headers": d.headers, "body": d.body })).collect::<Vec<_>>(),
    });
    let mut verify = std::process::Command::new(services_python());
    verify
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/webhook_verify.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = verify
            .spawn()
            .expect("the Python of scripts/services.sh runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

fn body_of(received: &Received) -> Value {
    serde_json::from_str(&received.body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribed_events_arrive_signed_once_each_and_are_logged() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    server
        .person(&acme, "owner@example.com", Some("owner"))
        .await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    let admin = key(
        &server,
        &acme,
        &["webhooks:manage", "users:write", "teams:manage"],
    )
    .await;
    let (id, secret) = endpoint(
        &server,
        &admin,
        &format!("{base}/acme"),
        &["user.invited", "user.deleted", "team.created"],
    )
    .await;
    // Another organisation's endpoint hears nothing of this one.
    let other_key = key(&server, &other, &["webhooks:manage"]).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "other",
        "/webhooks",
        &other_key,
        Some(json!({ "url": format!("{base}/other"), "events": ["user.invited", "user.deleted"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, user) = call(
        &server,
        Method::POST,
        "acme",
        "/users",
        &admin,
        Some(json!({ "email": "grace@example.com", "name": "Grace" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["id"].as_str().unwrap();
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/teams",
        &admin,
        Some(json!({ "name": "Ops" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Not subscribed: no delivery.
    let (status, blocked) = call(
        &server,
        Method::POST,
        "acme",
        &format!("/users/{user_id}/block"),
        &admin,
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {blocked}");
    let (status, _) = call(
        &server,
        Method::DELETE,
        "acme",
        &format!("/users/{user_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let seen = receiver.wait_for(3, 30).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen_now = receiver.seen();
    assert_eq!(
        seen_now.len(),
        3,
        "once each, and only the subscribed: {seen_now:?}"
    );
    assert!(seen.iter().all(|r| r.path == "/acme"));
    let mut types: Vec<String> = seen
        .iter()
        .map(|r| body_of(r)["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["team.created", "user.deleted", "user.invited"]);
    let invited = seen
        .iter()
        .map(body_of)
        .find(|b| b["type"] == "user.invited")
        .unwrap();
    assert_eq!(invited["data"]["target"], format!("user:{user_id}"));
    assert!(invited["data"]["actor"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));
    assert_eq!(invited["data"]["tenant_id"], acme.id.to_string());
    for r in &seen {
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["webhook-id"].starts_with("msg_"));
        assert!(r.headers["webhook-signature"].starts_with("v1,"));
        let sent: i64 = r.headers["webhook-timestamp"].parse().unwrap();
        assert!((sent - tessera::domain::Timestamp::now().unix()).abs() < 60);
    }
    let ids: std::collections::HashSet<&str> = seen
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "one message id per message");

    // The reference library accepts every signature, and refuses a changed body.
    let verdicts = verified(&secret, &seen).await;
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert!(
        verdicts
            .iter()
            .all(|v| v.starts_with("ok ") && v.ends_with("tampered refused")),
        "{verdicts:?}"
    );
    // With another endpoint's secret nothing verifies.
    let (_, wrong) = tessera::crypto::webhook::new_secret();
    assert!(verified(&wrong, &seen)
        .await
        .iter()
        .all(|v| v.starts_with("bad")));

    // The log: each delivery, its status, time and the start of the answer.
    let attempts = log_of(&server, &admin, &id, 3).await;
    assert_eq!(attempts.len(), 3);
    for a in &attempts {
        assert_eq!(a["status"], 200);
        assert_eq!(a["succeeded"], true);
        assert_eq!(a["response"], "thanks");
        assert_eq!(a["attempt"], 1);
        assert!(a["latency_ms"].as_i64().unwrap() >= 0);
    }
    // The secret is stored sealed, never as the text shown.
    let stored = server
        .state
        .store
        .webhooks
        .endpoint(acme.id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let shown = secret.trim_start_matches("whsec_").as_bytes();
    assert!(!stored.secret.windows(shown.len()).any(|w| w == shown));
    assert!(server
        .state
        .store
        .jobs
        .pending(acme.id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn endpoints_are_managed_within_their_tenant_and_bad_input_changes_nothing() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let other = server.tenant("other").await;
    let admin = key(&server, &acme, &["webhooks:manage"]).await;
    let reader = key(&server, &acme, &["users:read"]).await;
    let other_key = key(&server, &other, &["webhooks:manage"]).await;
    let (id, secret) = endpoint(
        &server,
        &admin,
        "https://hooks.example.com/in",
        &["user.created"],
    )
    .await;

    for bad in [
        json!({ "url": "ftp://hooks.example.com/", "events": ["user.created"] }),
        json!({ "url": "https://u:p@hooks.example.com/", "events": ["user.created"] }),
        json!({ "url": "https://hooks.example.com/", "events": [] }),
        json!({ "url": "https://hooks.example.com/", "events": ["token.issued"] }),
        json!({ "url": "https://hooks.example.com/", "events": ["user.created"], "admin": true }),
        json!({ "url": format!("https://hooks.example.com/{}", "a".repeat(3000)), "events": ["user.created"] }),
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            "acme",
            "/webhooks",
            &admin,
            Some(bad.clone()),
        )
        .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }
    let (status, _) = call(&server, Method::GET, "acme", "/webhooks", &reader, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &server,
        Method::GET,
        "acme",
        &format!("/webhooks/{id}"),
        &other_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another tenant's key");
    let (status, _) = call(
        &server,
        Method::GET,
        "other",
        &format!("/webhooks/{id}"),
        &other_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's endpoint");
    let (status, _) = call(
        &server,
        Method::DELETE,
        "other",
        &format!("/webhooks/{id}"),
        &other_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &server,
        Method::GET,
        "acme",
        "/webhooks/not-an-id",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = call(&server, Method::GET, "acme", "/webhooks", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert!(
        list.to_string().find("whsec_").is_none(),
        "the secret is never listed"
    );

    // Changes: checked, all or nothing.
    let (status, _) = call(
        &server,
        Method::PATCH,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        Some(json!({ "url": "ftp://hooks.example.com/", "events": ["user.deleted"] })),
    )
    .await;
    assert!(status.is_client_error());
    let (status, changed) = call(
        &server,
        Method::PATCH,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        Some(json!({ "events": ["user.deleted", "user.created"], "enabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["url"], "https://hooks.example.com/in");
    assert_eq!(changed["events"], json!(["user.created", "user.deleted"]));
    assert_eq!(changed["enabled"], false);

    let (status, rotated) = call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/rotate-secret"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["secret"], secret);

    let (status, _) = call(
        &server,
        Method::DELETE,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &server,
        Method::DELETE,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = server
        .audit_actions("acme")
        .await
        .into_iter()
        .map(|(action, _, _)| action)
        .filter(|a| a.starts_with("webhook."))
        .collect();
    for expected in [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.secret_rotated",
        "webhook.deleted",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_id_and_logged() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    receiver.then(&[
        Answer::Status(500, "boom: the receiver's database is down"),
        Answer::Status(503, "still down"),
    ]);
    let admin = key(&server, &acme, &["webhooks:manage", "teams:manage"]).await;
    let (id, _) = endpoint(&server, &admin, &format!("{base}/in"), &["team.created"]).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/teams",
        &admin,
        Some(json!({ "name": "Ops" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let seen = receiver.wait_for(3, 30).await;
    assert_eq!(seen.len(), 3);
    let first = &seen[0].headers["webhook-id"];
    assert!(
        seen.iter().all(|r| &r.headers["webhook-id"] == first),
        "one message, tried three times"
    );
    assert!(seen.iter().all(|r| r.body == seen[0].body));
    let attempts = log_of(&server, &admin, &id, 3).await;
    let summary: Vec<(i64, Value, bool)> = attempts
        .iter()
        .rev()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status"].clone(),
                a["succeeded"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, json!(500), false),
            (2, json!(503), false),
            (3, json!(200), true)
        ]
    );
    assert_eq!(
        attempts[2]["response"],
        "boom: the receiver's database is down"
    );
    let (_, endpoint) = call(
        &server,
        Method::GET,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(endpoint["enabled"], true);
    assert_eq!(
        endpoint["failing_since"],
        Value::Null,
        "a success ends the run of failures"
    );
}

#[tokio::test]
async fn test_events_and_redeliveries_go_out_again_with_their_id() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    let admin = key(&server, &acme, &["webhooks:manage"]).await;
    let (id, secret) = endpoint(&server, &admin, &format!("{base}/in"), &["user.created"]).await;

    let (status, queued) = call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/test"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let seen = receiver.wait_for(1, 30).await;
    assert_eq!(body_of(&seen[0])["type"], "webhook.test");
    assert_eq!(
        seen[0].headers["webhook-id"],
        queued["message_id"].as_str().unwrap()
    );
    let attempts = log_of(&server, &admin, &id, 1).await;

    let delivery = attempts[0]["id"].as_str().unwrap();
    let (status, again) = call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/deliveries/{delivery}/redeliver"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again["message_id"], queued["message_id"]);
    let seen = receiver.wait_for(2, 30).await;
    assert_eq!(seen[1].headers["webhook-id"], seen[0].headers["webhook-id"]);
    assert_eq!(seen[1].body, seen[0].body);
    assert!(verified(&secret, &seen)
        .await
        .iter()
        .all(|v| v.starts_with("ok webhook.test")));
    log_of(&server, &admin, &id, 2).await;

    // An attempt is redelivered only through its own endpoint, of its own tenant.
    let (other_id, _) =
        endpoint(&server, &admin, &format!("{base}/other"), &["user.created"]).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{other_id}/deliveries/{delivery}/redeliver"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = server.tenant("other").await;
    let other_key = key(&server, &other, &["webhooks:manage"]).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "other",
        &format!("/webhooks/{id}/deliveries/{delivery}/redeliver"),
        &other_key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.seen().len(),
        2,
        "refused redeliveries send nothing"
    );
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_hears_nothing_more() {
    let server = server_with(&[
        ("TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
        ("TESSERA_WEBHOOKS_DISABLE_AFTER_MINUTES", "0"),
    ])
    .await;
    let acme = server.tenant("acme").await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    receiver.then(&[Answer::Status(500, "down")]);
    let admin = key(&server, &acme, &["webhooks:manage", "teams:manage"]).await;
    let (id, _) = endpoint(&server, &admin, &format!("{base}/in"), &["team.created"]).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/teams",
        &admin,
        Some(json!({ "name": "Ops" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    receiver.wait_for(1, 30).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = call(
            &server,
            Method::GET,
            "acme",
            &format!("/webhooks/{id}"),
            &admin,
            None,
        )
        .await
        .1;
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{endpoint}"
    );
    // On MongoDB the event follows the change that disabled the endpoint: wait for it a moment.
    let mut audited = false;
    for _ in 0..50 {
        audited = server
            .audit_actions("acme")
            .await
            .iter()
            .any(|(action, outcome, _)| action == "webhook.disabled" && outcome == "failure");
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited, "the disabling is audited");

    // Disabled: the retry is dropped and new events are not queued.
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/teams",
        &admin,
        Some(json!({ "name": "Sales" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.seen().len(), 1);
    assert!(server
        .state
        .store
        .jobs
        .pending(acme.id)
        .await
        .unwrap()
        .is_empty());

    // Enabled again by an admin: deliveries resume.
    let (status, endpoint) = call(
        &server,
        Method::PATCH,
        "acme",
        &format!("/webhooks/{id}"),
        &admin,
        Some(json!({ "enabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(endpoint["disabled_reason"], Value::Null);
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/teams",
        &admin,
        Some(json!({ "name": "Legal" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let seen = receiver.wait_for(2, 30).await;
    assert_eq!(body_of(&seen[1])["type"], "team.created");
}

/// What a refused delivery logged: no status, and why.
async fn refused_attempt(server: &TestServer, admin: &str, url: &str) -> String {
    let (id, _) = endpoint(server, admin, url, &["user.created"]).await;
    let (status, _) = call(
        server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/test"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let attempt = log_of(server, admin, &id, 1).await.remove(0);
    assert_eq!(attempt["status"], Value::Null, "{attempt}");
    assert_eq!(attempt["succeeded"], false);
    attempt["response"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_addresses_after_resolution() {
    let server = server_with(&[("TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "false")]).await;
    let acme = server.tenant("acme").await;
    let admin = key(&server, &acme, &["webhooks:manage"]).await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    let port = base.rsplit(':').next().unwrap();

    // Plain http is refused outright.
    let (status, _) = call(
        &server,
        Method::POST,
        "acme",
        "/webhooks",
        &admin,
        Some(json!({ "url": format!("{base}/in"), "events": ["user.created"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Loopback, private and metadata addresses, as literals or behind a name.
    for (url, why) in [
        (
            format!("https://127.0.0.1:{port}/in"),
            "127.0.0.1 is a private address",
        ),
        (
            format!("https://localhost:{port}/in"),
            "localhost resolves to",
        ),
        (
            format!("https://[::1]:{port}/in"),
            "::1 is a private address",
        ),
        (
            "https://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is a private address",
        ),
        (
            "https://10.0.0.1/in".to_owned(),
            "10.0.0.1 is a private address",
        ),
        (
            format!("https://2130706433:{port}/in"),
            "127.0.0.1 is a private address",
        ),
    ] {
        let response = refused_attempt(&server, &admin, &url).await;
        assert!(response.contains(why), "{url}: {response}");
    }
    assert!(receiver.seen().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn redirects_are_not_followed_unless_the_operator_allows() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let admin = key(&server, &acme, &["webhooks:manage"]).await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    receiver.then(&[Answer::Redirect("/elsewhere")]);
    let (id, _) = endpoint(&server, &admin, &format!("{base}/in"), &["user.created"]).await;
    call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/test"),
        &admin,
        None,
    )
    .await;
    let attempt = log_of(&server, &admin, &id, 1).await.remove(0);
    assert_eq!(attempt["status"], 307);
    assert_eq!(attempt["succeeded"], false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.seen().iter().all(|r| r.path == "/in"),
        "{:?}",
        receiver.seen()
    );

    let following = server_with(&[
        ("TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"),
        ("TESSERA_WEBHOOKS_MAX_REDIRECTS", "1"),
    ])
    .await;
    let acme = following.tenant("acme").await;
    let admin = key(&following, &acme, &["webhooks:manage"]).await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    receiver.then(&[Answer::Redirect("/elsewhere"), Answer::Redirect("/further")]);
    let (id, _) = endpoint(&following, &admin, &format!("{base}/in"), &["user.created"]).await;
    call(
        &following,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/test"),
        &admin,
        None,
    )
    .await;
    let attempt = log_of(&following, &admin, &id, 1).await.remove(0);
    assert_eq!(
        attempt["succeeded"], false,
        "a second redirect is one too many: {attempt}"
    );
    assert!(
        attempt["response"]
            .as_str()
            .unwrap()
            .contains("redirected more than 1"),
        "{attempt}"
    );
    let paths: Vec<String> = receiver.seen().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths[..2], ["/in", "/elsewhere"]);
}

/// The receiver never answers the first delivery: the attempt times out, is logged, and the
/// message is sent again.
#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_tried_again() {
    let server = open_server().await;
    let acme = server.tenant("acme").await;
    let admin = key(&server, &acme, &["webhooks:manage"]).await;
    let receiver = Receiver::default();
    let base = receiver.start().await;
    receiver.then(&[Answer::Hang]);
    let (id, _) = endpoint(&server, &admin, &format!("{base}/in"), &["user.created"]).await;
    call(
        &server,
        Method::POST,
        "acme",
        &format!("/webhooks/{id}/test"),
        &admin,
        None,
    )
    .await;
    let attempts = log_of(&server, &admin, &id, 2).await;
    assert_eq!(attempts[1]["succeeded"], false);
    assert!(
        attempts[1]["response"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        attempts[1]
    );
    assert_eq!(attempts[0]["succeeded"], true);
}
