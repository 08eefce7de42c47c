//! Personal data export (issue 14, part 5): a person downloads their own data from the account
//! page, an admin exports one user's; both are audited, neither carries a secret, and the
//! admin's download keeps to the console's rules (permission, tenant, audit history).

mod common;

use common::{location, TestServer};
use reqwest::{header, StatusCode};
use serde_json::Value;
use tessera::admin::connections::{self, ConnectionInput};
use tessera::admin::{roles, Actor};
use tessera::domain::{
    Consent, Factor, FactorKind, LinkedIdentity, Preset, Tenant, Timestamp, UserId,
};

/// Stored as the factor's state: must never leave the server.
const FACTOR_SECRET: &str = "factor-state-that-stays-inside";

/// Alice of `acme`: in a team, with an allowed application.
async fn alice(server: &TestServer, tenant: &Tenant) -> UserId {
    let state = &server.state;
    let id = server.person(tenant, "alice@acme.test", None).await;
    let team = roles::create_team(state, &Actor::Cli, tenant, "Support", "First line")
        .await
        .expect("team");
    roles::add_member(state, &Actor::Cli, tenant, team.id, id)
        .await
        .expect("member");
    server.client("acme", "calendar", true).await;
    let consent = Consent {
        tenant_id: tenant.id,
        user_id: id,
        client_id: "calendar".into(),
        scopes: vec!["openid".into(), "email".into()],
        granted_at: Timestamp::now(),
    };
    state
        .store
        .consents
        .upsert(tenant.id, &consent)
        .await
        .unwrap();
    id
}

/// Gives Alice a second factor (after she signed in: the tests sign in with a password alone).
async fn add_factor(server: &TestServer, tenant: &Tenant, id: UserId) {
    let factor = Factor {
        id: "factor-1".into(),
        tenant_id: tenant.id,
        user_id: id,
        kind: FactorKind::Totp,
        name: "Authenticator app".into(),
        data: format!("{{\"secret\":\"{FACTOR_SECRET}\"}}"),
        version: 1,
        created_at: Timestamp::now(),
        last_used_at: None,
    };
    server
        .state
        .store
        .factors
        .add(tenant.id, &factor)
        .await
        .unwrap();
}

/// Alice signs in with her account at the tenant's OpenID Connect provider `corp` too.
async fn link_identity(server: &TestServer, tenant: &Tenant, id: UserId) {
    let input = ConnectionInput {
        slug: "corp".into(),
        name: "Corp".into(),
        issuer: "https://idp.corp.example".into(),
        client_id: "tessera".into(),
        ..ConnectionInput::new(Preset::Oidc)
    };
    let connection = connections::create(&server.state, &Actor::Cli, tenant, input)
        .await
        .unwrap();
    let link = LinkedIdentity {
        tenant_id: tenant.id,
        connection_id: connection.id,
        subject: "corp-id-of-alice".into(),
        user_id: id,
        email: Some("alice@corp.example".into()),
        created_at: Timestamp::now(),
        last_used_at: None,
    };
    server
        .state
        .store
        .connections
        .link(tenant.id, &link)
        .await
        .unwrap();
}

/// The downloaded document, after checking it is a JSON file nobody caches.
async fn document(response: reqwest::Response) -> (Value, String) {
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"personal-data-acme-"));
    let text = response.text().await.unwrap();
    (serde_json::from_str(&text).expect("JSON"), text)
}

fn without_secrets(text: &str) {
    assert!(!text.contains(FACTOR_SECRET), "factor state leaked");
    assert!(!text.contains("$argon2"), "password hash leaked");
    assert!(!text.contains("\"data\""), "stored factor data leaked");
}

fn count(actions: &[(String, String, Option<String>)], action: &str) -> usize {
    actions.iter().filter(|(a, ..)| a == action).count()
}

#[tokio::test]
async fn a_person_downloads_their_own_data_without_secrets() {
    let server = TestServer::start().await;
    let tenant = server.tenant("acme").await;
    let id = alice(&server, &tenant).await;
    let browser = server.signed_in("acme", "alice@acme.test").await;
    add_factor(&server, &tenant, id).await;
    link_identity(&server, &tenant, id).await;

    let page = browser.page("/t/acme/account").await;
    assert!(
        page.contains("href=\"/t/acme/account/data\""),
        "link on the account page: {page}"
    );

    let (data, text) = document(browser.get("/t/acme/account/data").await).await;
    without_secrets(&text);
    assert_eq!(data["format"], "tessera.personal-data.v1");
    assert_eq!(data["organisation"]["slug"], "acme");
    let profile = &data["profile"];
    assert_eq!(profile["id"], id.to_string());
    assert_eq!(profile["email"], "alice@acme.test");
    assert_eq!(profile["name"], "Alice Example");
    assert_eq!(profile["has_password"], true);
    assert_eq!(profile["sign_in_count"], 1);
    assert_eq!(data["teams"][0]["name"], "Support");
    let open = data["sign_ins"]["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "the current sign-in");
    assert_eq!(open[0]["methods"][0], "pwd");
    let history = data["sign_ins"]["history"].as_array().unwrap();
    assert!(
        history.iter().any(|e| e["action"] == "login.succeeded"),
        "the sign-in is in the history: {history:?}"
    );
    assert_eq!(data["consents"][0]["client_id"], "calendar");
    assert_eq!(data["consents"][0]["scopes"][1], "email");
    let factor = &data["second_factors"][0];
    assert_eq!(factor["kind"], "totp");
    assert_eq!(factor["name"], "Authenticator app");
    let linked = &data["linked_identities"][0];
    assert_eq!(linked["provider"], "Corp");
    assert_eq!(linked["connection"], "corp");
    assert_eq!(linked["subject"], "corp-id-of-alice");
    assert_eq!(linked["email"], "alice@corp.example");

    let actions = server.audit_actions("acme").await;
    assert_eq!(count(&actions, "account.data_exported"), 1);

    // Signed out: sent to the account page (which asks to sign in); nothing exported.
    let stranger = server.browser();
    let response = stranger.get("/t/acme/account/data").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/t/acme/account"));
    // Signed in to another tenant only: that sign-in does not count here.
    let other = server.tenant("other").await;
    server.person(&other, "bob@other.test", None).await;
    let bob = server.signed_in("other", "bob@other.test").await;
    let response = bob.get("/t/acme/account/data").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        server
            .browser()
            .get("/t/nobody/account/data")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let actions = server.audit_actions("acme").await;
    assert_eq!(
        count(&actions, "account.data_exported"),
        1,
        "refusals export nothing"
    );
}

#[tokio::test]
async fn an_admin_exports_one_users_data_within_the_consoles_rules() {
    let server = TestServer::start().await;
    let state = &server.state;
    let tenant = server.tenant("acme").await;
    let id = alice(&server, &tenant).await;
    // Alice signs in once, so there is history to export.
    server.signed_in("acme", "alice@acme.test").await;
    add_factor(&server, &tenant, id).await;
    for role in ["admin", "auditor", "developer"] {
        server
            .person(&tenant, &format!("{role}@acme.test"), Some(role))
            .await;
    }
    server.person(&tenant, "member@acme.test", None).await;
    let reader = roles::create(
        state,
        &Actor::Cli,
        &tenant,
        "Reader",
        "Sees users",
        &["users:read".to_string()],
    )
    .await
    .expect("role");
    server
        .person(&tenant, "reader@acme.test", Some(&reader.id))
        .await;
    let other = server.tenant("other").await;
    let bob = server.person(&other, "bob@other.test", None).await;
    let url = format!("/t/acme/admin/users/{id}/data");

    let admin = server.signed_in("acme", "admin@acme.test").await;
    let page = admin.page(&format!("/t/acme/admin/users/{id}")).await;
    assert!(
        page.contains(&format!("href=\"{url}\"")),
        "link on the user's page: {page}"
    );
    let (data, text) = document(admin.get(&url).await).await;
    without_secrets(&text);
    assert_eq!(data["profile"]["email"], "alice@acme.test");
    assert_eq!(data["second_factors"][0]["kind"], "totp");
    let history = data["sign_ins"]["history"].as_array().expect("history");
    assert!(history.iter().any(|e| e["action"] == "login.succeeded"));

    // users:read without audit:read: the document, but not the audit history.
    let reader = server.signed_in("acme", "reader@acme.test").await;
    let (data, _) = document(reader.get(&url).await).await;
    assert_eq!(data["profile"]["email"], "alice@acme.test");
    assert!(data["sign_ins"]["history"].is_null());

    for role in ["auditor", "developer", "member"] {
        let browser = server.signed_in("acme", &format!("{role}@acme.test")).await;
        let response = browser.get(&url).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role}");
    }
    // Another tenant's user, a malformed id, an unknown one: not found, whoever asks.
    for bad in [
        bob.to_string(),
        "1' OR '1'='1".into(),
        UserId::generate().to_string(),
    ] {
        let response = admin
            .get(&format!("/t/acme/admin/users/{}/data", urlencoding(&bad)))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    // Signed in to acme, asking in other's name: not a member of other's console.
    let response = admin.get(&format!("/t/other/admin/users/{bob}/data")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server.browser().get(&url).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let events = state
        .store
        .audit
        .recent(tenant.id, None, 200)
        .await
        .unwrap();
    let exports: Vec<_> = events
        .iter()
        .filter(|e| e.action == "user.data_exported")
        .collect();
    assert_eq!(exports.len(), 2, "the admin's and the reader's");
    let target = format!("user:{id}");
    assert!(exports
        .iter()
        .all(|e| e.target.as_deref() == Some(target.as_str())));
}

fn urlencoding(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}
