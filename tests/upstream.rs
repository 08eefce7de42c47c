//! Signing in through upstream identity providers, over real HTTP: a second Tessera tenant
//! (`corp`) is the OpenID Connect provider of the tenant `acme`, and a hostile provider in this
//! test sends forged ID tokens. The browser is the cookie-keeping client of `common`, with
//! JavaScript off.

mod common;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::upstream::{failures, id_token_after_consent, links, password_step, user_of};
use common::{hidden, location, query, AuthRequest, Browser, TestClient, TestServer, PASSWORD};
use reqwest::Response;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera::admin::clients::NewClient;
use tessera::admin::connections::{self, ConnectionInput};
use tessera::admin::Actor;
use tessera::crypto::signing;
use tessera::domain::{GrantType, Preset, SigningAlg, Tenant, Timestamp};

const BOB: &str = "bob@corp.example";

/// A server whose tenant `corp` has Bob and an application `acme-login` whose redirect URI is
/// `acme`'s callback of the connection `slug`.
async fn corp_and_acme(slug: &str) -> (TestServer, TestClient) {
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    let server = TestServer::start_with(None, vec![allow]).await;
    let corp = server.tenant("corp").await;
    server.person(&corp, BOB, None).await;
    server.tenant("acme").await;
    let callback = format!("{}/upstream/{slug}/callback", server.issuer("acme"));
    let app = server
        .register(
            "corp",
            NewClient {
                client_id: "acme-login".into(),
                name: "Acme".into(),
                redirect_uris: vec![callback],
                grants: vec![GrantType::AuthorizationCode],
                ..Default::default()
            },
        )
        .await;
    (server, app)
}

fn input(preset: Preset, slug: &str, client: &TestClient) -> ConnectionInput {
    ConnectionInput {
        slug: slug.into(),
        name: "Corp".into(),
        client_id: client.client_id.clone(),
        client_secret: client.secret.clone(),
        provisioning: true,
        ..ConnectionInput::new(preset)
    }
}

/// `acme`'s OIDC connection `corp` to the tenant `corp`.
async fn connect(server: &TestServer, app: &TestClient, change: impl FnOnce(&mut ConnectionInput)) {
    let mut new = input(Preset::Oidc, "corp", app);
    new.issuer = server.issuer("corp");
    change(&mut new);
    let acme = server.tenant("acme").await;
    connections::create(&server.state, &Actor::Cli, &acme, new)
        .await
        .expect("connection");
}

/// Presses the button of connection `slug` on `acme`'s sign-in page at `login_url`: the
/// answer sends the browser to the provider.
async fn press(browser: &Browser, login_url: &str, slug: &str) -> Response {
    let html = browser.page(login_url).await;
    assert!(
        html.contains(&format!("name=\"connection\" value=\"{slug}\"")),
        "a button for {slug}: {html}"
    );
    let flow = hidden(&html, "flow").unwrap_or_default();
    let csrf = hidden(&html, "csrf").expect("csrf");
    browser
        .post(
            "/t/acme/login/upstream",
            &[("flow", &flow), ("csrf", &csrf), ("connection", slug)],
        )
        .await
}

/// Follows redirects, signing in at `corp` and allowing its consent on the way, until a page
/// of the server answers; returns that page's URL and body.
async fn walk(browser: &Browser, mut response: Response, email: &str) -> (String, String) {
    loop {
        if let Some(next) = location(&response).filter(|_| response.status().is_redirection()) {
            response = browser.get(&browser.absolute(&next)).await;
            continue;
        }
        let url = response.url().to_string();
        let body = response.text().await.unwrap();
        if url.contains("/t/corp/login") && !body.contains("type=\"password\"") {
            response = browser.sign_in(&url, email, PASSWORD).await;
        } else if url.contains("/t/corp/consent") {
            response = browser.consent(&url, "allow").await;
        } else {
            return (url, body);
        }
    }
}

/// The callback URL the provider sends the browser to, without following it.
async fn callback_of(browser: &Browser, start: Response, email: &str) -> String {
    let mut response = start;
    loop {
        let next = location(&response).expect("a redirect");
        let next = browser.absolute(&next);
        if next.contains("/upstream/") && next.contains("/callback") {
            return next;
        }
        response = browser.get(&next).await;
        if !response.status().is_redirection() {
            let url = response.url().to_string();
            response = if url.contains("/consent") {
                browser.consent(&url, "allow").await
            } else {
                browser.sign_in(&url, email, PASSWORD).await
            };
        }
    }
}

#[tokio::test]
async fn an_application_signs_a_person_in_through_another_tenant_with_a_new_account() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    let client = server.client("acme", "portal", false).await;
    let browser = server.browser();
    let request = AuthRequest::new(&client);
    let login = browser.open(&request.url(&server, "acme")).await;
    assert!(login.contains("/t/acme/login?"), "{login}");

    let sent = press(&browser, &login, "corp").await;
    let to_provider = location(&sent).expect("sent to the provider");
    let asked = query(&to_provider);
    assert!(to_provider.starts_with(&format!("{}/authorize?", server.issuer("corp"))));
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["state"].len() >= 32 && asked["nonce"].len() >= 32);
    assert_eq!(
        asked["redirect_uri"],
        format!("{}/upstream/corp/callback", server.issuer("acme"))
    );

    let (page, body) = walk(&browser, sent, BOB).await;
    // acme's own consent for its application, then the code.
    assert!(page.contains("/t/acme/consent"), "{page}: {body}");
    let id_token = id_token_after_consent(&server, &browser, &client, &request, &page).await;
    assert_eq!(id_token["email"], BOB);
    assert!(
        id_token["amr"].as_array().unwrap().contains(&json!("fed")),
        "amr says federated: {id_token}"
    );

    let bob = user_of(&server, BOB).await.expect("Bob has an account");
    assert!(bob.password_hash.is_none(), "no password was made up");
    assert!(
        !bob.email_verified,
        "corp does not vouch for Bob's address (he never confirmed it there)"
    );
    assert_eq!(links(&server, BOB).await, 1);
    let audit = server.audit_actions("acme").await;
    for action in ["user.provisioned", "identity.linked", "login.upstream"] {
        assert!(
            audit.iter().any(|(a, o, _)| a == action && o == "success"),
            "{action} audited: {audit:?}"
        );
    }
}

#[tokio::test]
async fn a_second_sign_in_follows_the_link_to_the_same_account() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    for _ in 0..2 {
        let browser = server.browser();
        let sent = press(&browser, "/t/acme/login", "corp").await;
        let (page, _) = walk(&browser, sent, BOB).await;
        assert!(
            page.ends_with("/t/acme"),
            "signed in at acme's home: {page}"
        );
    }
    let acme = server.tenant("acme").await;
    let all = server
        .state
        .store
        .users
        .list(acme.id, None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "one account, not two");
    assert_eq!(links(&server, BOB).await, 1);
}

#[tokio::test]
async fn an_existing_account_is_linked_only_after_its_password() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    let acme = server.tenant("acme").await;
    server.person(&acme, BOB, None).await;

    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "corp").await;
    let (page, body) = walk(&browser, sent, BOB).await;
    assert!(page.contains("/t/acme/login?flow="), "{page}");
    assert!(body.contains("data-testid=\"link-notice\""), "{body}");
    assert!(
        body.contains("type=\"password\""),
        "the account's password is asked"
    );
    assert_eq!(
        links(&server, BOB).await,
        0,
        "nothing linked before the proof"
    );
    let home = browser.page("/t/acme/account").await;
    assert!(
        !home.contains(BOB),
        "not signed in by the provider's word alone"
    );

    let wrong = password_step(&browser, &page, "not the password").await;
    assert!(location(&wrong).unwrap().contains("error=incorrect"));
    assert_eq!(links(&server, BOB).await, 0);

    let right = password_step(&browser, &page, PASSWORD).await;
    let landed = browser.follow(right).await.unwrap_err();
    assert!(
        landed.url().as_str().ends_with("/t/acme"),
        "{}",
        landed.url()
    );
    assert_eq!(links(&server, BOB).await, 1);
    let acme = server.tenant("acme").await;
    let bob = user_of(&server, BOB).await.unwrap();
    let sessions = (server.state.store.sessions)
        .of_user(acme.id, bob.id, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].amr, ["pwd", "fed"]);

    // The next time, the link alone signs Bob in.
    let again = server.browser();
    let sent = press(&again, "/t/acme/login", "corp").await;
    let (page, _) = walk(&again, sent, BOB).await;
    assert!(page.ends_with("/t/acme"), "{page}");
}

#[tokio::test]
async fn without_provisioning_an_unknown_identity_is_refused() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |c| c.provisioning = false).await;
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "corp").await;
    let (page, body) = walk(&browser, sent, BOB).await;
    assert!(page.contains("error=upstream_no_account"), "{page}");
    assert!(body.contains("There is no account here for that identity"));
    assert!(user_of(&server, BOB).await.is_none());
    let audit = server.audit_actions("acme").await;
    assert_eq!(failures(&audit), ["no account is linked to this identity"]);
}

#[tokio::test]
async fn a_callback_is_single_use_and_needs_its_state_and_browser() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "corp").await;
    let callback = callback_of(&browser, sent, BOB).await;

    // Another browser presenting the answer: the sign-in is not its own, and the answer is
    // spent.
    let thief = server.browser();
    let stolen = thief.get(&callback).await;
    assert!(location(&stolen)
        .unwrap()
        .contains("error=upstream_expired"));
    let replay = browser.get(&callback).await;
    assert!(location(&replay)
        .unwrap()
        .contains("error=upstream_expired"));
    assert!(user_of(&server, BOB).await.is_none(), "nobody signed in");

    // A made-up or missing state.
    let forged = callback.replace("state=", "state=x");
    let answer = browser.get(&forged).await;
    assert!(location(&answer)
        .unwrap()
        .contains("error=upstream_expired"));
    let without = browser.get("/t/acme/upstream/corp/callback?code=abc").await;
    assert!(location(&without)
        .unwrap()
        .contains("error=upstream_expired"));
    let refusals = failures(&server.audit_actions("acme").await);
    assert_eq!(refusals.len(), 4, "{refusals:?}");

    // An answer used once signs in; its replay does not.
    let sent = press(&browser, "/t/acme/login", "corp").await;
    let callback = callback_of(&browser, sent, BOB).await;
    let first = browser.get(&callback).await;
    assert!(location(&first).unwrap().ends_with("/t/acme"));
    let replay = server.browser().get(&callback).await;
    assert!(location(&replay)
        .unwrap()
        .contains("error=upstream_expired"));
}

#[tokio::test]
async fn an_answer_for_another_connection_or_issuer_is_refused() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    // A second provider (the tenant `other`), whose answers must never count for `corp`.
    let other_app = server
        .register(
            "other",
            NewClient {
                client_id: "acme-login".into(),
                name: "Acme".into(),
                redirect_uris: vec![format!("{}/upstream/other/callback", server.issuer("acme"))],
                grants: vec![GrantType::AuthorizationCode],
                ..Default::default()
            },
        )
        .await;
    let other = server.tenant("other").await;
    server.person(&other, BOB, None).await;
    let mut second = input(Preset::Oidc, "other", &other_app);
    second.issuer = server.issuer("other");
    second.name = "Other".into();
    let acme = server.tenant("acme").await;
    connections::create(&server.state, &Actor::Cli, &acme, second)
        .await
        .unwrap();

    // The answer of `other` delivered to `corp`'s callback.
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "other").await;
    let callback = callback_of(&browser, sent, BOB).await;
    let moved = callback.replace("/upstream/other/", "/upstream/corp/");
    let answer = browser.get(&moved).await;
    assert!(location(&answer)
        .unwrap()
        .contains("error=upstream_invalid"));

    // `corp`'s answer naming another issuer, or none although corp promises one (RFC 9207).
    for tamper in ["other", "none"] {
        let browser = server.browser();
        let sent = press(&browser, "/t/acme/login", "corp").await;
        let callback = callback_of(&browser, sent, BOB).await;
        let issuer = query(&callback)["iss"].clone();
        assert_eq!(issuer, server.issuer("corp"), "Tessera sends iss");
        let tampered = if tamper == "other" {
            set_param(&callback, "iss", &server.issuer("other"))
        } else {
            set_param(&callback, "iss", "")
        };
        let answer = browser.get(&tampered).await;
        assert!(
            location(&answer)
                .unwrap()
                .contains("error=upstream_invalid"),
            "{tamper}"
        );
    }
    assert!(user_of(&server, BOB).await.is_none());
    let refusals = failures(&server.audit_actions("acme").await);
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(
        refusals.iter().all(|r| r.starts_with("mix-up")),
        "{refusals:?}"
    );
}

/// `url` with its query parameter `name` set to `value` (removed when empty).
fn set_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut pairs = parsed.query_pairs_mut();
        pairs.clear();
        for (k, v) in &kept {
            pairs.append_pair(k, v);
        }
        if !value.is_empty() {
            pairs.append_pair(name, value);
        }
    }
    parsed.into()
}

#[tokio::test]
async fn home_realm_discovery_sends_a_domain_to_its_provider() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |c| c.domains = "corp.example".into()).await;
    let browser = server.browser();
    let html = browser.page("/t/acme/login").await;
    let form = [
        ("tenant", "acme".to_owned()),
        ("flow", hidden(&html, "flow").unwrap_or_default()),
        ("csrf", hidden(&html, "csrf").unwrap()),
        ("email", BOB.to_owned()),
    ];
    let sent = browser.submit("/api/login_email", &form).await;
    let to = location(&sent).expect("a redirect");
    assert!(
        to.starts_with(&format!("{}/authorize?", server.issuer("corp"))),
        "{to}"
    );
    assert_eq!(query(&to)["login_hint"], BOB);
    let (page, _) = walk(&browser, sent, BOB).await;
    assert!(page.ends_with("/t/acme"), "{page}");

    // Another domain still gets the password step.
    let other = browser
        .post(
            "/api/login_email",
            &[
                ("tenant", "acme"),
                ("flow", ""),
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("email", "carol@elsewhere.example"),
            ],
        )
        .await;
    assert!(location(&other).unwrap().starts_with("/t/acme/login?flow="));
}

#[tokio::test]
async fn an_oauth2_connection_reads_the_person_from_the_userinfo_url() {
    let (server, app) = corp_and_acme("corp").await;
    let mut new = input(Preset::OAuth2, "corp", &app);
    let corp = server.issuer("corp");
    new.authorization_endpoint = format!("{corp}/authorize");
    new.token_endpoint = format!("{corp}/token");
    new.userinfo_endpoint = format!("{corp}/userinfo");
    new.scopes = "openid email profile".into();
    let acme = server.tenant("acme").await;
    connections::create(&server.state, &Actor::Cli, &acme, new)
        .await
        .unwrap();
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "corp").await;
    assert!(!query(&location(&sent).unwrap()).contains_key("nonce"));
    let (page, _) = walk(&browser, sent, BOB).await;
    assert!(page.ends_with("/t/acme"), "{page}");
    assert_eq!(links(&server, BOB).await, 1);
}

#[tokio::test]
async fn a_person_unlinks_an_identity_only_while_another_way_in_remains() {
    let (server, app) = corp_and_acme("corp").await;
    connect(&server, &app, |_| {}).await;
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "corp").await;
    walk(&browser, sent, BOB).await;
    let page = browser.page("/t/acme/account").await;
    assert!(page.contains("data-testid=\"linked-identities\""), "{page}");
    let unlink = |html: &str| {
        [
            ("tenant", "acme".to_owned()),
            ("csrf", hidden(html, "csrf").unwrap()),
            ("connection", "corp".to_owned()),
            ("subject", hidden(html, "subject").expect("a subject")),
        ]
    };
    let form = unlink(&page);
    let refused = browser.submit("/api/account_unlink", &form).await;
    assert!(location(&refused).unwrap().contains("error=last_sign_in"));
    assert_eq!(links(&server, BOB).await, 1);

    // With a password, the link may go.
    let acme = server.tenant("acme").await;
    let mut bob = user_of(&server, BOB).await.unwrap();
    bob.password_hash = Some(server.state.passwords.hash(PASSWORD.into()).await.unwrap());
    server
        .state
        .store
        .users
        .update(acme.id, &bob)
        .await
        .unwrap();
    let done = browser.submit("/api/account_unlink", &form).await;
    assert!(location(&done).unwrap().contains("done=unlinked"));
    assert_eq!(links(&server, BOB).await, 0);
    let audit = server.audit_actions("acme").await;
    assert!(audit.iter().any(|(a, _, _)| a == "identity.unlinked"));
}

// ---- A hostile provider: it signs what the test tells it to. ----

#[derive(Clone)]
struct Rogue {
    base: String,
    key: Arc<signing::NewKeyPair>,
    /// The nonce of the last authorization request, and the claims to change in the ID token.
    nonce: Arc<Mutex<String>>,
    changes: Arc<Mutex<Map<String, Value>>>,
    /// Signs with this key instead (one the provider does not publish), or `alg: none`.
    forge: Arc<Mutex<Option<&'static str>>>,
}

impl Rogue {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rogue = Rogue {
            base: format!("http://{}", listener.local_addr().unwrap()),
            key: Arc::new(signing::generate(SigningAlg::ES256)),
            nonce: Default::default(),
            changes: Default::default(),
            forge: Default::default(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(rogue_discovery))
            .route("/jwks", get(rogue_jwks))
            .route("/authorize", get(rogue_authorize))
            .route("/token", post(rogue_token))
            .with_state(rogue.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        rogue
    }

    fn id_token(&self) -> String {
        let now = Timestamp::now().unix();
        let mut claims = json!({
            "iss": self.base, "aud": "acme", "sub": "rogue-1", "iat": now, "exp": now + 300,
            "nonce": *self.nonce.lock().unwrap(), "email": "new@rogue.example", "email_verified": true,
        });
        for (k, v) in self.changes.lock().unwrap().iter() {
            claims[k] = v.clone();
        }
        let forge = *self.forge.lock().unwrap();
        if forge == Some("none") {
            use base64::Engine;
            let b64 =
                |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            return format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims));
        }
        let stranger = signing::generate(SigningAlg::ES256);
        let key = if forge == Some("stranger") {
            &stranger
        } else {
            &self.key
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key.kid.clone());
        let signer = jsonwebtoken::EncodingKey::from_ec_der(&key.private_der);
        jsonwebtoken::encode(&header, &claims, &signer).unwrap()
    }
}

async fn rogue_discovery(State(rogue): State<Rogue>) -> Json<Value> {
    let base = &rogue.base;
    Json(json!({
        "issuer": base, "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn rogue_jwks(State(rogue): State<Rogue>) -> Json<Value> {
    Json(json!({ "keys": [rogue.key.public_jwk] }))
}

async fn rogue_authorize(
    State(rogue): State<Rogue>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    *rogue.nonce.lock().unwrap() = q.get("nonce").cloned().unwrap_or_default();
    let back = format!(
        "{}?code=rogue-code&state={}",
        q["redirect_uri"],
        url::form_urlencoded::byte_serialize(q["state"].as_bytes()).collect::<String>()
    );
    Redirect::to(&back)
}

async fn rogue_token(State(rogue): State<Rogue>) -> Json<Value> {
    Json(
        json!({ "access_token": "rogue-at", "token_type": "Bearer", "id_token": rogue.id_token() }),
    )
}

/// `acme` with the connection `rogue` to the hostile provider, and Alice, who has an account.
async fn acme_and_rogue() -> (TestServer, Rogue, Tenant) {
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    let server = TestServer::start_with(None, vec![allow]).await;
    let rogue = Rogue::start().await;
    let acme = server.tenant("acme").await;
    server.person(&acme, "alice@acme.example", None).await;
    let client = TestClient {
        client_id: "acme".into(),
        secret: Some("a-secret-of-the-rogue".into()),
        redirect_uri: String::new(),
    };
    let mut new = input(Preset::Oidc, "rogue", &client);
    new.issuer = rogue.base.clone();
    new.name = "Rogue".into();
    connections::create(&server.state, &Actor::Cli, &acme, new)
        .await
        .unwrap();
    (server, rogue, acme)
}

async fn through_rogue(server: &TestServer) -> (Browser, String) {
    let browser = server.browser();
    let sent = press(&browser, "/t/acme/login", "rogue").await;
    let mut response = browser.get(&location(&sent).unwrap()).await;
    while let Some(next) = location(&response).filter(|_| response.status().is_redirection()) {
        if !next.starts_with('/') && !next.starts_with(&server.base) {
            response = browser.get(&next).await;
            continue;
        }
        if next.contains("error=") || !next.contains("/upstream/") {
            return (browser, next);
        }
        response = browser.get(&next).await;
    }
    panic!("no redirect at the end: {}", response.status());
}

#[tokio::test]
async fn forged_or_careless_id_tokens_are_refused() {
    let (server, rogue, acme) = acme_and_rogue().await;
    // The provider works: a well-formed ID token signs a new person in.
    let (_, landed) = through_rogue(&server).await;
    assert!(landed.ends_with("/t/acme"), "{landed}");
    let created = user_of(&server, "new@rogue.example").await;
    assert!(created.is_some());

    let now = Timestamp::now().unix();
    let cases: Vec<(&str, Option<&'static str>, Value)> = vec![
        (
            "nonce",
            None,
            json!({"nonce": "another sign-in's nonce", "sub": "r2"}),
        ),
        ("aud", None, json!({"aud": "someone-else", "sub": "r3"})),
        (
            "iss",
            None,
            json!({"iss": "https://elsewhere.example", "sub": "r4"}),
        ),
        ("exp", None, json!({"exp": now - 3600, "sub": "r5"})),
        (
            "azp",
            None,
            json!({"aud": ["acme", "other"], "azp": "other", "sub": "r6"}),
        ),
        ("signature", Some("stranger"), json!({"sub": "r7"})),
        ("alg none", Some("none"), json!({"sub": "r8"})),
    ];
    for (what, forge, changes) in cases {
        *rogue.changes.lock().unwrap() = changes.as_object().unwrap().clone();
        *rogue.forge.lock().unwrap() = forge;
        let (_, landed) = through_rogue(&server).await;
        assert!(
            landed.contains("error=upstream_invalid"),
            "{what}: {landed}"
        );
    }
    let people = server
        .state
        .store
        .users
        .list(acme.id, None, 100)
        .await
        .unwrap();
    assert_eq!(people.len(), 2, "only Alice and the first person");
    let refusals = failures(&server.audit_actions("acme").await);
    assert_eq!(refusals.len(), 7, "{refusals:?}");
}

#[tokio::test]
async fn a_verified_email_from_a_provider_never_takes_over_an_account() {
    let (server, rogue, acme) = acme_and_rogue().await;
    *rogue.changes.lock().unwrap() =
        json!({"email": "alice@acme.example", "email_verified": true, "sub": "attacker"})
            .as_object()
            .unwrap()
            .clone();
    let (browser, landed) = through_rogue(&server).await;
    assert!(landed.contains("/t/acme/login?flow="), "{landed}");
    let page = browser.page(&landed).await;
    assert!(page.contains("data-testid=\"link-notice\""));
    let alice = user_of(&server, "alice@acme.example").await.unwrap();
    let sessions = (server.state.store.sessions)
        .of_user(acme.id, alice.id, Timestamp::now())
        .await
        .unwrap();
    assert!(sessions.is_empty(), "Alice's account is not signed in");
    assert_eq!(links(&server, "alice@acme.example").await, 0);
}
