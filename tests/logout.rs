//! Signing out: RP-initiated logout (with and without a valid `id_token_hint`), what it revokes
//! and what survives, and back-channel logout tokens delivered to a listening client.
#![cfg(feature = "ssr")]

mod common;

use axum::{extract::State, http::StatusCode as AxumStatus, routing::post, Form, Router};
use common::{hidden, location, query, AuthRequest, Browser, TestClient, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tessera::admin::clients::NewClient;
use tessera::domain::GrantType;

const BYE: &str = "http://127.0.0.1:8123/bye";

async fn app_with(server: &TestServer, backchannel: Option<String>) -> TestClient {
    server
        .register(
            "default",
            NewClient {
                client_id: "app".into(),
                grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scopes: vec!["openid".into(), "email".into(), "offline_access".into()],
                post_logout_redirect_uris: vec![BYE.into()],
                backchannel_logout_uri: backchannel,
                ..Default::default()
            },
        )
        .await
}

/// Signs alice in with `browser` and exchanges the code; the token response.
async fn sign_in(server: &TestServer, browser: &Browser, app: &TestClient, scope: &str) -> Value {
    let request = AuthRequest::new(app).set("scope", scope);
    let callback = browser
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    server
        .exchange_code(app, &query(&callback)["code"], &request.verifier)
        .await
        .json()
        .await
        .unwrap()
}

async fn refresh(server: &TestServer, app: &TestClient, token: &Value) -> StatusCode {
    server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

fn logout_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    format!(
        "{}/logout?{}",
        server.issuer("default"),
        serde_urlencoded::to_string(params).unwrap()
    )
}

/// Whether `browser` is still signed in: prompt=none answers with a code only then.
async fn still_signed_in(server: &TestServer, browser: &Browser, app: &TestClient) -> bool {
    let url = AuthRequest::new(app)
        .set("prompt", "none")
        .set("scope", "openid")
        .url(server, "default");
    let to = location(&browser.get(&url).await).unwrap();
    query(&to).contains_key("code")
}

#[tokio::test]
async fn a_valid_hint_signs_out_at_once_and_returns_to_the_client() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = app_with(&server, None).await;
    let browser = server.browser();
    let online = sign_in(&server, &browser, &app, "openid email").await;
    let offline = sign_in(&server, &browser, &app, "openid offline_access").await;
    assert!(still_signed_in(&server, &browser, &app).await);

    let hint = online["id_token"].as_str().unwrap();
    let response = browser
        .get(&logout_url(
            &server,
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
                ("state", "bye-state"),
            ],
        ))
        .await;
    let to = location(&response).expect("back to the client");
    assert!(to.starts_with(BYE), "{to}");
    assert_eq!(query(&to)["state"], "bye-state");
    assert!(!still_signed_in(&server, &browser, &app).await);

    assert_eq!(
        refresh(&server, &app, &online).await,
        StatusCode::BAD_REQUEST,
        "a refresh token of the sign-in ends with it"
    );
    let userinfo = server
        .http()
        .get(format!("{}/userinfo", server.issuer("default")))
        .bearer_auth(online["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::UNAUTHORIZED,
        "and its access tokens"
    );
    assert_eq!(
        refresh(&server, &app, &offline).await,
        StatusCode::OK,
        "offline access outlives the sign-in"
    );
    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(a, o, _)| a == "logout" && o == "success"));
}

#[tokio::test]
async fn without_a_valid_hint_the_person_confirms_first() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    browser
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let page = browser.get(&logout_url(&server, &[])).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out of Default?"), "{html}");
    assert!(still_signed_in(&server, &browser, &app).await, "only asked");

    let forged = browser
        .post("/t/default/logout", &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status(), StatusCode::OK, "asked again");
    assert!(still_signed_in(&server, &browser, &app).await);

    let csrf = hidden(&html, "csrf").unwrap();
    let confirmed = browser.post("/t/default/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        location(&confirmed).as_deref(),
        Some("/t/default/signed-out")
    );
    assert!(!still_signed_in(&server, &browser, &app).await);
}

#[tokio::test]
async fn hostile_sign_out_requests_never_redirect() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = app_with(&server, None).await;
    let browser = server.browser();
    let tokens = sign_in(&server, &browser, &app, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    // The same signature over a payload naming someone else.
    let forged_hint = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let parts: Vec<&str> = hint.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = Value::from("someone-else");
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "an unregistered return address",
            vec![
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://evil.example/bye"),
            ],
        ),
        (
            "a return address without a client",
            vec![("post_logout_redirect_uri", BYE)],
        ),
        ("a forged hint", vec![("id_token_hint", &forged_hint)]),
        (
            "a hint for another client",
            vec![("id_token_hint", hint), ("client_id", "other")],
        ),
    ];
    for (what, params) in cases {
        let response = browser.get(&logout_url(&server, &params)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(location(&response).is_none(), "{what}: no redirect");
    }
    assert!(still_signed_in(&server, &browser, &app).await);
}

/// A relying party's back-channel logout endpoint that fails its first request.
#[derive(Clone, Default)]
struct Listener {
    received: Arc<Mutex<Vec<String>>>,
}

async fn receive(
    State(listener): State<Listener>,
    Form(form): Form<HashMap<String, String>>,
) -> AxumStatus {
    let mut received = listener.received.lock().unwrap();
    received.push(form.get("logout_token").cloned().unwrap_or_default());
    if received.len() == 1 {
        AxumStatus::SERVICE_UNAVAILABLE
    } else {
        AxumStatus::OK
    }
}

#[tokio::test]
async fn a_signed_logout_token_reaches_the_client_even_after_a_failure() {
    let listener = Listener::default();
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", socket.local_addr().unwrap());
    let routes = Router::new()
        .route("/backchannel", post(receive))
        .with_state(listener.clone());
    tokio::spawn(async move { axum::serve(socket, routes).await });

    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = app_with(&server, Some(uri)).await;
    let browser = server.browser();
    let tokens = sign_in(&server, &browser, &app, "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    browser
        .get(&logout_url(&server, &[("id_token_hint", id_token)]))
        .await;

    let mut waited = 0;
    while listener.received.lock().unwrap().len() < 2 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let received = listener.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one failure, then delivered");
    let sid = |token: &str| -> Value {
        let claims = token.split('.').nth(1).unwrap();
        let claims =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                .unwrap();
        serde_json::from_slice::<Value>(&claims).unwrap()["sid"].clone()
    };
    assert_eq!(
        sid(&received[0]),
        sid(&received[1]),
        "the same sign-in, retried (each attempt signs a fresh token)"
    );

    let header = jsonwebtoken::decode_header(&received[1]).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(format!("{}/jwks", server.issuer("default")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[server.issuer("default")]);
    let logout: Value = jsonwebtoken::decode(&received[1], &key, &validation)
        .expect("signed by the issuer")
        .claims;
    let id_claims: Value = {
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["app"]);
        let key = jsonwebtoken::DecodingKey::from_jwk(
            jwks.find(&jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap())
                .unwrap(),
        )
        .unwrap();
        jsonwebtoken::decode(id_token, &key, &validation)
            .unwrap()
            .claims
    };
    assert_eq!(logout["sub"], id_claims["sub"]);
    assert_eq!(
        logout["sid"], id_claims["sid"],
        "the sign-in the ID token named"
    );
    assert!(logout["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(logout.get("nonce").is_none());
    assert!(logout["jti"].is_string());

    let mut audited = false;
    for _ in 0..50 {
        audited = server
            .audit_actions("default")
            .await
            .iter()
            .any(|(a, o, r)| {
                a == "logout.backchannel"
                    && o == "success"
                    && r.as_deref() == Some("delivered after 2 attempt(s)")
            });
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited);
}
