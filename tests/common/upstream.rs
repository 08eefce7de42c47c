//! What the tests of sign-in through other providers read back: the people, links and
//! refusals of the tenant `acme`, whose connections they use, and the claims of its tokens.

use super::{hidden, query, AuthRequest, Browser, TestClient, TestServer};
use base64::Engine;
use reqwest::Response;
use serde_json::Value;
use tessera::domain::User;

/// The person of `acme` with this address.
pub async fn user_of(server: &TestServer, email: &str) -> Option<User> {
    let acme = server.tenant("acme").await;
    (server.state.store.users.by_email(acme.id, email))
        .await
        .unwrap()
}

/// How many upstream identities are linked to that person (none when there is no such person).
pub async fn links(server: &TestServer, email: &str) -> usize {
    let acme = server.tenant("acme").await;
    match user_of(server, email).await {
        Some(user) => (server.state.store.connections.links_of(acme.id, user.id))
            .await
            .unwrap()
            .len(),
        None => 0,
    }
}

/// The reasons of the refused upstream sign-ins in an audit list, newest first.
pub fn failures(audit: &[(String, String, Option<String>)]) -> Vec<String> {
    audit
        .iter()
        .filter(|(action, outcome, _)| action == "login.upstream" && outcome == "failure")
        .map(|(_, _, reason)| reason.clone().unwrap_or_default())
        .collect()
}

/// Allows `acme`'s consent at `consent_page` for `client`, whose `request` it answers, and
/// redeems the code the application gets: the claims of its ID token (unverified: the test
/// only reads what was issued).
pub async fn id_token_after_consent(
    server: &TestServer,
    browser: &Browser,
    client: &TestClient,
    request: &AuthRequest,
    consent_page: &str,
) -> Value {
    let back = browser
        .follow(browser.consent(consent_page, "allow").await)
        .await;
    let code = query(&back.expect("back to the application"))["code"].clone();
    let tokens: Value = server
        .exchange_code_in("acme", client, &code, &request.verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let payload = id_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Answers the password step of `acme`'s sign-in page at `page` with `password`.
pub async fn password_step(browser: &Browser, page: &str, password: &str) -> Response {
    let html = browser.page(page).await;
    let form = [
        ("tenant", "acme".to_owned()),
        ("flow", hidden(&html, "flow").unwrap()),
        ("csrf", hidden(&html, "csrf").unwrap()),
        ("password", password.to_owned()),
    ];
    browser.submit("/api/login_password", &form).await
}
