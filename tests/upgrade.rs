//! Upgrades: a database made and filled by the code and migrations of an earlier commit
//! (`tests/fixtures/upgrade/`, `COMMIT` names it; `scripts/upgrade-fixture.sh` makes it) is
//! migrated by this code when it opens it, and what it held keeps working: the people sign in
//! (one with the authenticator app set up back then), the application's refresh tokens
//! rotate, the service's secret works, the audit log reads, and the tables that came later
//! (the job queue) are there. On SQLite, PostgreSQL and MongoDB. `scripts/test.sh` also runs
//! the flow tests on such databases (`TESSERA_TEST_FROM_FIXTURE=1`).
#![cfg(feature = "ssr")]

mod common;

use common::{backends, location, AuthRequest, TestClient, TestServer};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::admin::{audit, Actor};
use tessera::domain::Timestamp;
use tessera::store::AuditQuery;

const SLUG: &str = "legacy";

fn totp_now(secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.into()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into())
        .generate_current()
        .unwrap()
}

fn text(secrets: &Value, name: &str) -> String {
    secrets[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name}"))
        .to_owned()
}

async fn refresh(server: &TestServer, web: &TestClient, token: &str) -> reqwest::Response {
    server
        .http()
        .post(format!("{}/token", server.issuer(SLUG)))
        .basic_auth(&web.client_id, web.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

async fn upgrade(backend: &str) {
    let storage = backends::load_fixture(backend, backends::fresh(backend).await).await;
    let secrets = backends::fixture_secrets(backend);
    let server = TestServer::start_on(storage, None, Vec::new()).await;
    let state = &server.state;

    // A table of a later migration is there and works.
    let backlog = state.store.jobs.backlog(Timestamp::now()).await.unwrap();
    assert_eq!(backlog.waiting, 0);

    let web = TestClient {
        client_id: "legacy-web".into(),
        secret: Some(text(&secrets, "web_client_secret")),
        redirect_uri: text(&secrets, "web_redirect_uri"),
    };
    // Refresh tokens issued before the upgrade rotate once, and a spent one is refused.
    let bob_token = text(&secrets, "bob_refresh_token");
    let rotated = refresh(&server, &web, &bob_token).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    assert!(rotated["access_token"].is_string() && rotated["refresh_token"].is_string());
    let replayed = refresh(&server, &web, &bob_token).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["error"], "invalid_grant");

    // The service's secret, stored as a hash back then, still authenticates it.
    let svc_secret = text(&secrets, "svc_client_secret");
    let status = server
        .client_credentials(SLUG, "legacy-svc", &svc_secret)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .client_credentials(SLUG, "legacy-svc", "not-the-secret")
            .await,
        StatusCode::UNAUTHORIZED
    );

    // Ada signs in with her password and the authenticator app she set up before the
    // upgrade (its secret sealed under the same key); her consent is remembered.
    let browser = server.browser();
    let request = AuthRequest::new(&web);
    let login = browser.open(&request.url(&server, SLUG)).await;
    let password = text(&secrets, "password");
    let after_password = browser.sign_in(&login, "ada@legacy.test", &password).await;
    let factor_page = browser.absolute(&location(&after_password).unwrap());
    let html = browser.page(&factor_page).await;
    assert!(html.contains("authenticator app"), "{html}");
    let fields = [
        ("tenant", common::hidden(&html, "tenant").unwrap()),
        ("flow", common::hidden(&html, "flow").unwrap()),
        ("csrf", common::hidden(&html, "csrf").unwrap()),
        ("method", "totp".to_owned()),
        ("code", totp_now(&text(&secrets, "totp_secret"))),
    ];
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let accepted = browser.post("/api/login_factor", &form).await;
    let callback = match browser.follow(accepted).await {
        Ok(callback) => callback,
        Err(page) => {
            let tenant = tessera::admin::tenants::find(state, SLUG).await.unwrap();
            let events =
                audit::search(state, &Actor::Cli, &tenant, &AuditQuery::default(), None, 5)
                    .await
                    .unwrap();
            panic!("not back to the application ({}): {events:#?}", page.url());
        }
    };
    let code = common::query(&callback)["code"].clone();
    let tokens = server
        .exchange_code_in(SLUG, &web, &code, &request.verifier)
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    assert!(tokens["id_token"].is_string());

    // Bob's password, hashed back then, still works; a wrong one does not.
    let refused = server
        .browser()
        .sign_in("/t/legacy/login", "bob@legacy.test", "not the password")
        .await;
    assert!(location(&refused).unwrap().contains("error=incorrect"));
    let signed_in = server
        .browser()
        .sign_in("/t/legacy/login", "bob@legacy.test", &password)
        .await;
    assert!(!location(&signed_in).unwrap().contains("error="));

    // The audit log of before and after the upgrade reads as one.
    let tenant = tessera::admin::tenants::find(state, SLUG).await.unwrap();
    let events = audit::search(
        state,
        &Actor::Cli,
        &tenant,
        &AuditQuery::default(),
        None,
        500,
    )
    .await
    .unwrap();
    let has = |action: &str| events.iter().any(|e| e.action == action);
    assert!(has("mfa.enrolled") && has("consent.granted") && has("token.issued"));
}

#[tokio::test]
async fn a_sqlite_database_of_an_earlier_commit_is_upgraded() {
    upgrade("sqlite").await;
}

#[tokio::test]
async fn a_postgresql_database_of_an_earlier_commit_is_upgraded() {
    upgrade("postgresql").await;
}

#[tokio::test]
async fn a_mongodb_database_of_an_earlier_commit_is_upgraded() {
    upgrade("mongodb").await;
}

/// From `0006` on, each PostgreSQL migration says in a comment why it is safe on a large
/// database (which locks it takes), and builds any index of a table it did not create
/// `CONCURRENTLY`, outside a transaction. (Earlier files cannot gain comments: sqlx refuses a
/// database whose applied migration files changed.)
#[test]
fn postgresql_migrations_say_why_they_are_safe_on_large_tables() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let number: u32 = name[..4].parse().unwrap();
        if number < 6 {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let comments = text.lines().filter(|l| l.starts_with("--"));
        assert!(
            comments.clone().any(|l| l.contains("lock")),
            "{name}: say in a comment which locks it takes on existing tables"
        );
        let created: Vec<&str> = text
            .split("CREATE TABLE ")
            .skip(1)
            .map(|rest| rest.split_whitespace().next().unwrap())
            .collect();
        for statement in text.split(';') {
            let Some(at) = statement.find(" ON ") else {
                continue;
            };
            if !statement.contains("CREATE INDEX") && !statement.contains("CREATE UNIQUE INDEX") {
                continue;
            }
            let table = statement[at + 4..].split_whitespace().next().unwrap();
            if created.contains(&table) {
                continue;
            }
            assert!(
                statement.contains("CONCURRENTLY") && text.starts_with("-- no-transaction"),
                "{name}: an index of the existing table {table} is built CONCURRENTLY, outside a transaction"
            );
        }
    }
}
