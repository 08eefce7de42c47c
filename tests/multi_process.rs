//! Several `tessera serve` processes on one PostgreSQL or MongoDB database, as behind a load
//! balancer: a person signs in through both, and what one process issues the other honours;
//! failed attempts are counted across both; concurrent owner changes through both keep an
//! owner; a back-channel logout queued by a process that is killed is delivered by the
//! other; webhook messages are each delivered once by two processes, and one whose delivery
//! was cut short by the kill of its process is delivered by another.
#![cfg(feature = "ssr")]

mod common;

use axum::{extract::State, http::StatusCode as AxumStatus, routing::post, Form, Router};
use common::process::{free_port, spawn, wait_until_ready, Process};
use common::{backends, hidden, location, query, AuthRequest, Browser, TestClient, PASSWORD};
use reqwest::{cookie::Jar, redirect::Policy, StatusCode};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tessera::admin::{clients::NewClient, roles, users::NewUser, Actor};
use tessera::domain::{Tenant, UserId};
use tessera::state::AppState;
use tessera::store::AuditQuery;

/// Registers the confidential client `app`.
async fn register_app(tool: &AppState, tenant: &Tenant, backchannel: Option<String>) -> TestClient {
    let redirect_uri = "http://127.0.0.1:8123/callback".to_string();
    let new = NewClient {
        client_id: "app".into(),
        name: "Test App".into(),
        redirect_uris: vec![redirect_uri.clone()],
        backchannel_logout_uri: backchannel,
        ..Default::default()
    };
    let (_, secret) = tessera::admin::clients::create(tool, &Actor::Cli, tenant, new)
        .await
        .unwrap();
    TestClient {
        client_id: "app".into(),
        secret,
        redirect_uri,
    }
}

/// Redeems an authorization code at the token endpoint of the process at `base`.
async fn exchange(base: &str, app: &TestClient, code: &str, verifier: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}/t/default/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn browser(base: &str, jar: &Arc<Jar>) -> Browser {
    Browser {
        http: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap(),
        base: base.into(),
    }
}

#[tokio::test]
async fn two_processes_share_sign_ins_keys_and_tokens() {
    let site = installation("postgresql").await;
    site.person("alice@example.com").await;
    let (one, two) = (&site.one, &site.two);
    let app = register_app(&site.tool, &site.tenant, None).await;

    // One browser (one cookie jar) whose requests a load balancer spreads over both.
    let jar = Arc::new(Jar::default());
    let (via_one, via_two) = (browser(&one.base, &jar), browser(&two.base, &jar));
    let request = AuthRequest::new(&app);
    let query_string = serde_urlencoded::to_string(&request.params).unwrap();
    let login = via_one
        .open(&format!("{}/t/default/authorize?{query_string}", one.base))
        .await;
    assert!(login.contains("/login?"), "sign-in page expected: {login}");
    let login_on_two = login.replace(&one.base, &two.base);
    let after_password = via_two
        .sign_in(&login_on_two, "alice@example.com", PASSWORD)
        .await;
    let consent = via_two
        .follow(after_password)
        .await
        .expect_err("the consent page")
        .url()
        .to_string();
    assert!(consent.contains("/consent?"), "consent expected: {consent}");
    let callback = via_one
        .follow(
            via_one
                .consent(&consent.replace(&two.base, &one.base), "allow")
                .await,
        )
        .await
        .expect("a redirect back to the client");
    let code = query(&callback)["code"].clone();

    let tokens = exchange(&two.base, &app, &code, &request.verifier).await;
    let access_token = tokens["access_token"].as_str().expect("an access token");
    assert!(tokens["id_token"].is_string());

    let userinfo = reqwest::Client::new()
        .get(format!("{}/t/default/userinfo", one.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::OK,
        "a token issued by one process is accepted by the other"
    );
    let claims: serde_json::Value = userinfo.json().await.unwrap();
    assert_eq!(claims["email"], "alice@example.com");

    let jwks = |base: String| async move {
        reqwest::get(format!("{base}/t/default/jwks"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        jwks(one.base.clone()).await,
        jwks(two.base.clone()).await,
        "both publish the same keys"
    );
}

/// Two server processes on fresh storage of `backend`, and a command-line state on the same
/// storage for setting up and checking.
struct Installation {
    one: Process,
    two: Process,
    tool: AppState,
    tenant: Tenant,
    vars: HashMap<&'static str, String>,
    _storage: Box<dyn std::any::Any + Send>,
}

async fn installation(backend: &str) -> Installation {
    let storage = backends::provision(backend).await;
    let mut vars: HashMap<&str, String> = storage.vars.iter().cloned().collect();
    vars.insert(
        "TESSERA_ENCRYPTION_KEY",
        tessera::crypto::EncryptionKey::generate().1,
    );
    // The webhook receivers of these tests listen on loopback.
    vars.insert("TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true".into());
    // Both start at once on an empty database: one migrates, one creates the tenant `default`,
    // one creates its signing key, and neither fails.
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let mut one = spawn(&vars, &public_url);
    let mut two = spawn(&vars, &public_url);
    wait_until_ready(&mut one).await;
    wait_until_ready(&mut two).await;
    vars.insert("TESSERA_PUBLIC_URL", public_url);
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let tool = tessera::cli::build_state(config, false, false)
        .await
        .unwrap();
    let tenant = tessera::admin::tenants::find(&tool, "default")
        .await
        .unwrap();
    Installation {
        one,
        two,
        tool,
        tenant,
        vars,
        _storage: storage.guard,
    }
}

impl Installation {
    async fn person(&self, email: &str) -> UserId {
        let new = NewUser {
            email,
            name: Some("Test Person"),
            password: Some(PASSWORD.into()),
            admin: false,
        };
        tessera::admin::users::create(&self.tool, &Actor::Cli, &self.tenant, new)
            .await
            .unwrap()
            .id
    }
}

async fn failed_attempts_are_counted_across_processes(backend: &str) {
    let site = installation(backend).await;
    site.person("alice@example.com").await;
    let jar = Arc::new(Jar::default());
    let (via_one, via_two) = (browser(&site.one.base, &jar), browser(&site.two.base, &jar));
    // Five failures are free; each process sees three.
    for via in [&via_one, &via_two, &via_one, &via_two, &via_one, &via_two] {
        let response = via
            .sign_in("/t/default/login", "alice@example.com", "wrong password")
            .await;
        let to = location(&response).unwrap();
        assert!(to.contains("error=incorrect"), "{to}");
    }
    for via in [&via_one, &via_two] {
        let response = via
            .sign_in("/t/default/login", "alice@example.com", PASSWORD)
            .await;
        let to = location(&response).unwrap();
        assert!(
            to.contains("error=throttled") && to.contains("wait="),
            "six failures through two processes slow down the next attempt on both: {to}"
        );
    }
}

#[tokio::test]
async fn failed_attempts_are_counted_across_processes_on_postgresql() {
    failed_attempts_are_counted_across_processes("postgresql").await;
}

#[tokio::test]
async fn failed_attempts_are_counted_across_processes_on_mongodb() {
    failed_attempts_are_counted_across_processes("mongodb").await;
}

/// A signed-in owner's browser on one process, with its CSRF token.
async fn console_of(base: &str, email: &str) -> (Browser, String) {
    let browser = browser(base, &Arc::new(Jar::default()));
    let response = browser.sign_in("/t/default/login", email, PASSWORD).await;
    assert!(response.status().is_redirection(), "signed in");
    let html = browser.page("/t/default").await;
    (browser, hidden(&html, "csrf").expect("csrf token"))
}

async fn give_up_owner(console: &(Browser, String), user: UserId) -> reqwest::Response {
    let (browser, csrf) = console;
    let user = user.to_string();
    browser
        .post(
            "/api/admin_user_role",
            &[
                ("tenant", "default"),
                ("csrf", csrf),
                ("user", &user),
                ("role", "owner"),
                ("grant", "0"),
            ],
        )
        .await
}

async fn the_last_owner_survives_concurrent_removals_through_two_processes(backend: &str) {
    let site = installation(backend).await;
    let state = &site.tool;
    // The first administrator made at start-up is an owner too: they step down first.
    let first = state
        .store
        .access
        .role_holders(site.tenant.id, "owner")
        .await
        .unwrap();
    let (ann, bob) = (
        site.person("ann@example.com").await,
        site.person("bob@example.com").await,
    );
    for who in [ann, bob] {
        roles::assign(state, &Actor::Cli, &site.tenant, who, "owner")
            .await
            .unwrap();
    }
    for who in first {
        roles::unassign(state, &Actor::Cli, &site.tenant, who, "owner")
            .await
            .unwrap();
    }
    let ann_console = console_of(&site.one.base, "ann@example.com").await;
    let bob_console = console_of(&site.two.base, "bob@example.com").await;
    for round in 0..5 {
        // Both step down at the same moment, each through another process.
        let (by_ann, by_bob) = tokio::join!(
            give_up_owner(&ann_console, ann),
            give_up_owner(&bob_console, bob)
        );
        assert!(by_ann.status().is_redirection() && by_bob.status().is_redirection());
        let mut owners = 0;
        for who in [ann, bob] {
            let held = state.store.users.roles(site.tenant.id, who).await.unwrap();
            owners += usize::from(held.iter().any(|r| r == "owner"));
        }
        assert_eq!(owners, 1, "round {round}: exactly one stepped down");
        for who in [ann, bob] {
            roles::assign(state, &Actor::Cli, &site.tenant, who, "owner")
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn the_last_owner_survives_concurrent_removals_through_two_processes_on_postgresql() {
    the_last_owner_survives_concurrent_removals_through_two_processes("postgresql").await;
}

#[tokio::test]
async fn the_last_owner_survives_concurrent_removals_through_two_processes_on_mongodb() {
    the_last_owner_survives_concurrent_removals_through_two_processes("mongodb").await;
}

/// A client's back-channel logout endpoint: refuses until opened, and records what it got.
#[derive(Clone, Default)]
struct Receiver {
    open: Arc<Mutex<bool>>,
    refused: Arc<Mutex<u32>>,
    received: Arc<Mutex<Vec<String>>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    Form(form): Form<HashMap<String, String>>,
) -> AxumStatus {
    if !*receiver.open.lock().unwrap() {
        *receiver.refused.lock().unwrap() += 1;
        return AxumStatus::SERVICE_UNAVAILABLE;
    }
    let token = form.get("logout_token").cloned().unwrap_or_default();
    receiver.received.lock().unwrap().push(token);
    AxumStatus::OK
}

async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    for _ in 0..seconds * 10 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited {seconds} s for {what}");
}

async fn a_logout_delivery_survives_the_kill_of_the_process_that_queued_it(backend: &str) {
    let receiver = Receiver::default();
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backchannel = format!("http://{}/backchannel", socket.local_addr().unwrap());
    let routes = Router::new()
        .route("/backchannel", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(socket, routes).await });

    let mut site = installation(backend).await;
    site.person("alice@example.com").await;
    let app = register_app(&site.tool, &site.tenant, Some(backchannel)).await;

    let via_one = browser(&site.one.base, &Arc::new(Jar::default()));
    let request = AuthRequest::new(&app);
    let query_string = serde_urlencoded::to_string(&request.params).unwrap();
    let callback = via_one
        .authorize(
            &format!("/t/default/authorize?{query_string}"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let tokens = exchange(&site.one.base, &app, &code, &request.verifier).await;
    let id_token = tokens["id_token"].as_str().expect("an ID token");

    // Process one signs Alice out and queues the delivery; its first attempt is refused.
    let hint = serde_urlencoded::to_string([("id_token_hint", id_token)]).unwrap();
    let logout = via_one.get(&format!("/t/default/logout?{hint}")).await;
    assert!(logout.status().is_redirection() || logout.status().is_success());
    wait_for("the first attempt", 30, || {
        *receiver.refused.lock().unwrap() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    site.one.child.kill().unwrap();
    site.one.child.wait().unwrap();

    // The client comes back; process two, which never saw the sign-out, delivers.
    *receiver.open.lock().unwrap() = true;
    wait_for("the delivery by process two", 120, || {
        !receiver.received.lock().unwrap().is_empty()
    })
    .await;
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "delivered once");
    let header = jsonwebtoken::decode_header(&received[0]).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let claims: serde_json::Value =
        serde_json::from_slice(&base64_url_decode(received[0].split('.').nth(1).unwrap())).unwrap();
    let id_claims: serde_json::Value =
        serde_json::from_slice(&base64_url_decode(id_token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["sid"], id_claims["sid"], "the sign-in that ended");
    assert_eq!(claims["aud"], "app");

    let mut delivered = Vec::new();
    for _ in 0..50 {
        let query = AuditQuery {
            action: Some("logout.backchannel".into()),
            ..Default::default()
        };
        delivered = site
            .tool
            .store
            .audit
            .search(site.tenant.id, &query, None, 10)
            .await
            .unwrap();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("delivered after")),
        "{:?}",
        delivered[0].reason
    );
    assert!(site
        .tool
        .store
        .jobs
        .pending(site.tenant.id)
        .await
        .unwrap()
        .is_empty());
}

fn base64_url_decode(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

#[tokio::test]
async fn a_logout_delivery_survives_the_kill_of_the_process_that_queued_it_on_postgresql() {
    a_logout_delivery_survives_the_kill_of_the_process_that_queued_it("postgresql").await;
}

#[tokio::test]
async fn a_logout_delivery_survives_the_kill_of_the_process_that_queued_it_on_mongodb() {
    a_logout_delivery_survives_the_kill_of_the_process_that_queued_it("mongodb").await;
}

/// A webhook receiver: the `webhook-id` of each delivery it got, in order. The first
/// `hang_first` deliveries are held without an answer (as a receiver that is slow, or whose
/// caller dies mid-request).
#[derive(Clone, Default)]
struct Hooks {
    ids: Arc<Mutex<Vec<String>>>,
    hang_first: Arc<Mutex<u32>>,
}

async fn hook(State(hooks): State<Hooks>, headers: axum::http::HeaderMap) -> AxumStatus {
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    hooks.ids.lock().unwrap().push(id);
    let hang = {
        let mut left = hooks.hang_first.lock().unwrap();
        let hang = *left > 0;
        *left = left.saturating_sub(1);
        hang
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    AxumStatus::OK
}

impl Hooks {
    async fn start(&self) -> String {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", socket.local_addr().unwrap());
        let routes = Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(socket, routes).await });
        url
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
}

async fn subscribe(site: &Installation, url: &str) -> uuid::Uuid {
    let events = vec!["user.created".to_owned()];
    tessera::admin::webhooks::create(&site.tool, &Actor::Cli, &site.tenant, url, "", &events)
        .await
        .unwrap()
        .endpoint
        .id
}

async fn webhooks_are_delivered_once_each_by_two_processes(backend: &str) {
    let hooks = Hooks::default();
    let url = hooks.start().await;
    let site = installation(backend).await;
    let endpoint = subscribe(&site, &url).await;
    // The command-line state writes the events and their messages; the two servers deliver.
    for n in 0..20 {
        site.person(&format!("p{n}@example.com")).await;
    }
    wait_for("20 deliveries", 60, || hooks.ids().len() >= 20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut ids = hooks.ids();
    assert_eq!(ids.len(), 20, "each message once: {ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "20 messages");
    let log = site
        .tool
        .store
        .webhooks
        .attempts(site.tenant.id, endpoint, 100)
        .await
        .unwrap();
    assert_eq!(log.len(), 20);
    assert!(log.iter().all(|a| a.succeeded && a.attempt == 1));
    assert!(site
        .tool
        .store
        .jobs
        .pending(site.tenant.id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn webhooks_are_delivered_once_each_by_two_processes_on_postgresql() {
    webhooks_are_delivered_once_each_by_two_processes("postgresql").await;
}

#[tokio::test]
async fn webhooks_are_delivered_once_each_by_two_processes_on_mongodb() {
    webhooks_are_delivered_once_each_by_two_processes("mongodb").await;
}

async fn a_webhook_cut_short_by_a_killed_process_is_delivered_by_another(backend: &str) {
    let hooks = Hooks::default();
    *hooks.hang_first.lock().unwrap() = 1;
    let url = hooks.start().await;
    let mut site = installation(backend).await;
    // Only process one runs: it takes the delivery, and dies in the middle of it.
    site.two.child.kill().unwrap();
    site.two.child.wait().unwrap();
    let endpoint = subscribe(&site, &url).await;
    site.person("alice@example.com").await;
    wait_for("the first attempt", 30, || hooks.ids().len() == 1).await;
    site.one.child.kill().unwrap();
    site.one.child.wait().unwrap();

    // A new process takes the message once the dead one's lease has ended.
    let public_url = site.vars["TESSERA_PUBLIC_URL"].clone();
    let mut three = spawn(&site.vars, &public_url);
    wait_until_ready(&mut three).await;
    let lease = tessera::jobs::queue::LEASE_SECS as u64;
    wait_for("the delivery by another process", lease + 60, || {
        hooks.ids().len() == 2
    })
    .await;
    let ids = hooks.ids();
    assert_eq!(ids[0], ids[1], "the same message, with its idempotency id");
    let mut log = Vec::new();
    for _ in 0..50 {
        log = site
            .tool
            .store
            .webhooks
            .attempts(site.tenant.id, endpoint, 10)
            .await
            .unwrap();
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log.len(), 1, "the dead process logged nothing");
    assert!(log[0].succeeded);
    assert_eq!(log[0].attempt, 2, "the second lease of the message");
    assert_eq!(log[0].message_id, ids[0]);
}

#[tokio::test]
async fn a_webhook_cut_short_by_a_killed_process_is_delivered_by_another_on_postgresql() {
    a_webhook_cut_short_by_a_killed_process_is_delivered_by_another("postgresql").await;
}

#[tokio::test]
async fn a_webhook_cut_short_by_a_killed_process_is_delivered_by_another_on_mongodb() {
    a_webhook_cut_short_by_a_killed_process_is_delivered_by_another("mongodb").await;
}
