//! The device authorization grant (RFC 8628): the `openidconnect` crate plays the device and
//! polls while a person enters the code in a browser, signs in and allows it.
#![cfg(feature = "ssr")]

mod common;

use common::{hidden, location, Browser, TestClient, TestServer, PASSWORD};
use openidconnect::{
    core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata},
    ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tessera::domain::GrantType;

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A server with alice and a public device client `tv`.
async fn tv() -> (TestServer, TestClient) {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let tv = server
        .client_with(
            "default",
            "tv",
            true,
            &[GrantType::DeviceCode, GrantType::RefreshToken],
            &["openid", "profile"],
            &[],
        )
        .await;
    (server, tv)
}

/// The person's side: open the verification page, sign in, and decide.
async fn person_decides(browser: &Browser, verification_uri_complete: &str, decision: &str) {
    let page = browser.page(verification_uri_complete).await;
    assert!(page.contains("Sign in to connect the device"), "{page}");
    let form = |html: &str, name: &str| hidden(html, name).unwrap_or_else(|| panic!("{name}"));
    let started = browser
        .post(
            "/api/device_sign_in",
            &[
                ("tenant", &form(&page, "tenant")),
                ("user_code", &form(&page, "user_code")),
                ("csrf", &form(&page, "csrf")),
            ],
        )
        .await;
    let login = browser.absolute(&location(&started).expect("to the sign-in page"));
    let signed_in = browser.sign_in(&login, "alice@example.com", PASSWORD).await;
    let back = browser.absolute(&location(&signed_in).expect("back to the device page"));
    assert!(back.contains("/device?user_code="), "{back}");
    let confirm = browser.page(&back).await;
    assert!(confirm.contains("on your device asks to"), "{confirm}");
    let decided = browser
        .post(
            "/api/device_decide",
            &[
                ("tenant", &form(&confirm, "tenant")),
                ("user_code", &form(&confirm, "user_code")),
                ("csrf", &form(&confirm, "csrf")),
                ("decision", decision),
            ],
        )
        .await;
    let done = location(&decided).expect("a result page");
    let expected = if decision == "allow" {
        "done=approved"
    } else {
        "done=denied"
    };
    assert!(done.ends_with(expected), "{done}");
}

#[tokio::test]
async fn a_device_gets_its_tokens_once_the_person_allows_it() {
    let (server, _tv) = tv().await;
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.issuer("default")).unwrap(),
        &http(),
    )
    .await
    .unwrap();
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        server.issuer("default")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let device = CoreClient::from_provider_metadata(metadata, ClientId::new("tv".into()), None)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(
                doc["device_authorization_endpoint"]
                    .as_str()
                    .unwrap()
                    .into(),
            )
            .unwrap(),
        );
    let details: CoreDeviceAuthorizationResponse = device
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http())
        .await
        .expect("device authorization");
    assert_eq!(details.user_code().secret().len(), 9, "XXXX-XXXX");
    let complete = details
        .verification_uri_complete()
        .expect("a link with the code")
        .secret()
        .clone();
    assert!(complete.starts_with(&format!("{}/device?user_code=", server.issuer("default"))));

    let browser = server.browser();
    let person = person_decides(&browser, &complete, "allow");
    let poller = http();
    let polling = device
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(&poller, tokio::time::sleep, Some(Duration::from_secs(60)));
    let (tokens, ()) = tokio::join!(polling, person);
    let tokens = tokens.expect("tokens after approval");
    assert!(tokens.refresh_token().is_some());
    let id_token = tokens.id_token().expect("an ID token: openid was granted");
    let claims = id_token
        .claims(&device.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the ID token validates");
    assert!(claims.auth_time().is_some());
    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(a, o, _)| a == "device.approved" && o == "success"));
}

async fn authorize_device(server: &TestServer, client_id: &str) -> Value {
    server
        .http()
        .post(format!("{}/device_authorization", server.issuer("default")))
        .form(&[("client_id", client_id), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn poll(server: &TestServer, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", device_code),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn error(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or("none"))
}

#[tokio::test]
async fn polling_answers_as_rfc_8628_says() {
    let (server, _tv) = tv().await;
    let other = server
        .client_with(
            "default",
            "other-tv",
            true,
            &[GrantType::DeviceCode],
            &[],
            &[],
        )
        .await;
    let bad = StatusCode::BAD_REQUEST;
    let started = authorize_device(&server, "tv").await;
    let code = started["device_code"].as_str().unwrap();
    assert_eq!(
        error(&poll(&server, "tv", code).await),
        (bad, "authorization_pending")
    );
    assert_eq!(
        error(&poll(&server, "tv", code).await),
        (bad, "slow_down"),
        "polled again at once"
    );
    assert_eq!(
        error(&poll(&server, &other.client_id, code).await),
        (bad, "invalid_grant"),
        "another client's device code"
    );
    assert_eq!(
        error(&poll(&server, "tv", "made-up").await),
        (bad, "invalid_grant")
    );

    // Denied: the device is told so.
    let denied = authorize_device(&server, "tv").await;
    person_decides(
        &server.browser(),
        denied["verification_uri_complete"].as_str().unwrap(),
        "deny",
    )
    .await;
    assert_eq!(
        error(&poll(&server, "tv", denied["device_code"].as_str().unwrap()).await),
        (bad, "access_denied")
    );

    // Approved: tokens once, never twice.
    let allowed = authorize_device(&server, "tv").await;
    person_decides(
        &server.browser(),
        allowed["verification_uri_complete"].as_str().unwrap(),
        "allow",
    )
    .await;
    let device_code = allowed["device_code"].as_str().unwrap();
    let first = poll(&server, "tv", device_code).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert!(first.1["access_token"].is_string());
    assert_ne!(poll(&server, "tv", device_code).await.0, StatusCode::OK);

    // A client that may not use the grant cannot start it.
    let web = server.client("default", "web", true).await;
    let refused = server
        .http()
        .post(format!("{}/device_authorization", server.issuer("default")))
        .form(&[("client_id", web.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_expired_device_code_is_reported_as_expired() {
    let (server, _tv) = tv().await;
    let started = authorize_device(&server, "tv").await;
    let code = started["device_code"].as_str().unwrap();
    let tenant = server.tenant("default").await;
    let artifacts = &server.state.store.artifacts;
    let key = tessera::crypto::sha256_hex(code);
    let stored = artifacts
        .get_ephemeral(tenant.id, "device-grant", &key)
        .await
        .unwrap()
        .unwrap();
    let mut grant: Value = serde_json::from_str(&stored.value).unwrap();
    grant["expires_at"] = Value::from(tessera::domain::Timestamp::now().unix() - 1);
    assert!(artifacts
        .swap_ephemeral(
            tenant.id,
            "device-grant",
            &key,
            stored.version,
            &grant.to_string()
        )
        .await
        .unwrap());
    assert_eq!(
        error(&poll(&server, "tv", code).await),
        (StatusCode::BAD_REQUEST, "expired_token")
    );
    let page = server
        .browser()
        .page(started["verification_uri_complete"].as_str().unwrap())
        .await;
    assert!(page.contains("not valid or has expired"), "{page}");
}

#[tokio::test]
async fn the_code_page_refuses_unknown_codes_and_forged_decisions() {
    let (server, _tv) = tv().await;
    let browser = server.browser();
    let page = browser
        .page(&format!(
            "{}/device?user_code=BCDF-GHJK",
            server.issuer("default")
        ))
        .await;
    assert!(page.contains("not valid or has expired"), "{page}");
    assert!(page.contains("name=\"user_code\""), "asks again");

    let started = authorize_device(&server, "tv").await;
    let forged = browser
        .post(
            "/api/device_decide",
            &[
                ("tenant", "default"),
                ("user_code", started["user_code"].as_str().unwrap()),
                ("csrf", "forged"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(location(&forged).unwrap().contains("error=csrf"));
    assert_eq!(
        error(&poll(&server, "tv", started["device_code"].as_str().unwrap()).await).1,
        "authorization_pending",
        "nothing was decided"
    );
}
