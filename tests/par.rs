//! Pushed authorization requests (RFC 9126): pushed by the authenticated client, used once by
//! the browser, and required when the client says so.
#![cfg(feature = "ssr")]

mod common;

use common::{location, query, AuthRequest, TestClient, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::admin::clients::NewClient;

async fn push(
    server: &TestServer,
    app: &TestClient,
    params: &[(String, String)],
) -> (StatusCode, Value) {
    let response = server
        .http()
        .post(format!("{}/par", server.issuer("default")))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(params)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn authorize_url(server: &TestServer, client_id: &str, request_uri: &str) -> String {
    let query =
        serde_urlencoded::to_string([("client_id", client_id), ("request_uri", request_uri)])
            .unwrap();
    format!("{}/authorize?{query}", server.issuer("default"))
}

#[tokio::test]
async fn a_pushed_request_completes_the_code_flow_once() {
    let (server, app) = TestServer::with_alice().await;
    let request = AuthRequest::new(&app);
    let (status, pushed) = push(&server, &app, &request.params).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let request_uri = pushed["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(pushed["expires_in"].as_i64().unwrap() > 0);

    let url = authorize_url(&server, &app.client_id, &request_uri);
    let callback = server
        .browser()
        .authorize(&url, "alice@example.com", PASSWORD, "allow")
        .await;
    let params = query(&callback);
    assert_eq!(params["state"], "state-123", "the pushed state comes back");
    let tokens = server
        .exchange_code(&app, &params["code"], &request.verifier)
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);

    let again = server.browser().get(&url).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "used once");
    assert!(location(&again).is_none(), "an error page, not a redirect");
}

#[tokio::test]
async fn pushing_checks_the_request_as_authorize_would() {
    let (server, app) = TestServer::with_alice().await;
    let base = AuthRequest::new(&app);
    let cases = [
        (
            "no redirect_uri",
            base.clone().without("redirect_uri"),
            "invalid_request",
        ),
        (
            "an unregistered redirect_uri",
            base.clone().set("redirect_uri", "https://evil.example/cb"),
            "invalid_request",
        ),
        (
            "a token response",
            base.clone().set("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            "PKCE plain",
            base.clone().set("code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            "a scope beyond the client's",
            base.clone().set("scope", "openid admin"),
            "invalid_scope",
        ),
        (
            "a request_uri inside",
            base.clone()
                .set("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
    ];
    for (what, request, error) in cases {
        let (status, body) = push(&server, &app, &request.params).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{what}: {body}"
        );
    }
    let anonymous = server
        .http()
        .post(format!("{}/par", server.issuer("default")))
        .form(&base.params)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "only authenticated clients push"
    );
}

#[tokio::test]
async fn a_request_uri_works_only_for_the_client_that_pushed_it() {
    let (server, app) = TestServer::with_alice().await;
    let other = server.client("default", "other", false).await;
    let (_, pushed) = push(&server, &app, &AuthRequest::new(&app).params).await;
    let request_uri = pushed["request_uri"].as_str().unwrap();
    for url in [
        authorize_url(&server, &other.client_id, request_uri),
        authorize_url(
            &server,
            &app.client_id,
            "urn:ietf:params:oauth:request_uri:made-up",
        ),
        authorize_url(&server, &app.client_id, "https://evil.example/request"),
    ] {
        let response = server.browser().get(&url).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(location(&response).is_none());
    }
}

#[tokio::test]
async fn a_client_that_requires_pushed_requests_cannot_skip_them() {
    let (server, _) = TestServer::with_alice().await;
    let strict = server
        .register(
            "default",
            NewClient {
                client_id: "strict".into(),
                require_par: true,
                ..Default::default()
            },
        )
        .await;
    let direct = server
        .browser()
        .get(&AuthRequest::new(&strict).url(&server, "default"))
        .await;
    let to = location(&direct).expect("an error for the client");
    assert!(to.starts_with(&strict.redirect_uri), "{to}");
    assert_eq!(query(&to)["error"], "invalid_request");

    let (status, pushed) = push(&server, &strict, &AuthRequest::new(&strict).params).await;
    assert_eq!(status, StatusCode::CREATED);
    let login = server
        .browser()
        .open(&authorize_url(
            &server,
            &strict.client_id,
            pushed["request_uri"].as_str().unwrap(),
        ))
        .await;
    assert!(login.contains("/login?"), "pushed, it proceeds: {login}");
}
