//! Client documents by reference: keys published at a `jwks_uri` (RFC 7591 §2) authenticate
//! `private_key_jwt` and sign request objects, are fetched again when a JWT names a new key
//! (but not twice in 30 seconds), and are refused when private, oversized or holding a
//! private key; request objects by reference (`request_uri`, RFC 9101 §5.2) are fetched and
//! checked as those by value. The client's server is a real HTTP server on a loopback port.
#![cfg(feature = "ssr")]

mod common;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode as Status};
use common::{location, query, AuthRequest, TestClient, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera::admin::{clients::NewClient, Actor};
use tessera::crypto::{random_token, signing};
use tessera::domain::{GrantType, SigningAlg, Timestamp};
use tessera::error::AppError;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The client's own web server: what it publishes at each path, and how often each was asked.
#[derive(Clone, Default)]
struct Site {
    base: String,
    pages: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Site {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = axum::Router::new().fallback(serve).with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        site
    }

    fn publish(&self, path: &str, body: String) -> String {
        self.pages.lock().unwrap().insert(path.into(), body);
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn serve(
    State(site): State<Site>,
    request: Request,
) -> (Status, [(header::HeaderName, &'static str); 1], String) {
    let path = request.uri().path().to_owned();
    *site.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let json = [(header::CONTENT_TYPE, "application/json")];
    match site.pages.lock().unwrap().get(&path) {
        Some(body) => (Status::OK, json, body.clone()),
        None => (Status::NOT_FOUND, json, "{}".into()),
    }
}

/// A server that may fetch from loopback addresses, as a developer's would.
async fn permissive_server() -> TestServer {
    let allow = ("TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned());
    TestServer::start_with(None, vec![allow]).await
}

fn key_set(keys: &[&signing::NewKeyPair]) -> String {
    let keys: Vec<&Value> = keys.iter().map(|k| &k.public_jwk).collect();
    json!({ "keys": keys }).to_string()
}

fn sign(key: &signing::NewKeyPair, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
    )
    .unwrap()
}

/// A service client whose keys are at `jwks_uri`.
async fn service(server: &TestServer, client_id: &str, jwks_uri: &str) -> TestClient {
    let new = NewClient {
        client_id: client_id.into(),
        grants: vec![GrantType::ClientCredentials],
        jwks_uri: Some(jwks_uri.into()),
        ..Default::default()
    };
    server.register("default", new).await
}

/// A client-credentials request of `client_id` authenticated by an assertion `key` signed.
async fn token(
    server: &TestServer,
    client_id: &str,
    key: &signing::NewKeyPair,
) -> (StatusCode, Value) {
    let now = Timestamp::now().unix();
    let claims = json!({
        "iss": client_id, "sub": client_id, "jti": random_token(12),
        "aud": format!("{}/token", server.issuer("default")), "iat": now, "exp": now + 60,
    });
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(key, &claims)),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn keys_at_a_url_authenticate_and_a_new_key_is_fetched_once_in_30_seconds() {
    let server = permissive_server().await;
    let site = Site::start().await;
    let (first, second, third) = (
        signing::generate(SigningAlg::ES256),
        signing::generate(SigningAlg::ES256),
        signing::generate(SigningAlg::ES256),
    );
    let jwks_uri = site.publish("/jwks", key_set(&[&first]));
    let app = service(&server, "keyed", &jwks_uri).await;
    assert_eq!(app.secret, None, "a client with keys gets no secret");

    for _ in 0..2 {
        let (status, body) = token(&server, "keyed", &first).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(site.hits("/jwks"), 1, "the set is kept between JWTs");

    // The client rotates: the new key is published, and a JWT naming it fetches the set again.
    site.publish("/jwks", key_set(&[&second]));
    let (status, body) = token(&server, "keyed", &second).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(site.hits("/jwks"), 2);

    // Another unknown key within 30 seconds is refused without a fetch.
    site.publish("/jwks", key_set(&[&second, &third]));
    let (status, body) = token(&server, "keyed", &third).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(site.hits("/jwks"), 2, "at most one fetch in 30 seconds");
}

#[tokio::test]
async fn unusable_key_sets_at_the_url_refuse_the_client() {
    let server = permissive_server().await;
    let site = Site::start().await;
    let key = signing::generate(SigningAlg::ES256);
    let mut leaked = key.public_jwk.clone();
    leaked["d"] = json!("c2VjcmV0");
    let padding = "x".repeat(70 * 1024);
    let cases = [
        (
            "private",
            site.publish("/private", json!({ "keys": [leaked] }).to_string()),
        ),
        (
            "oversized",
            site.publish(
                "/large",
                json!({ "keys": [key.public_jwk], "padding": padding }).to_string(),
            ),
        ),
        ("missing", format!("{}/missing", site.base)),
        (
            "not JSON",
            site.publish("/text", "<html>keys</html>".into()),
        ),
    ];
    for (case, jwks_uri) in cases {
        let client_id = format!("client-{}", case.replace(' ', "-"));
        service(&server, &client_id, &jwks_uri).await;
        let (status, body) = token(&server, &client_id, &key).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{case}: {body}"
        );
        let text = body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("404"),
            "{case}: nothing of the fetch is told: {text}"
        );
    }
    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(action, _, reason)| action == "client.authentication"
            && reason.as_deref()
                == Some("the client's keys could not be fetched from its jwks_uri")));
}

#[tokio::test]
async fn keys_on_private_networks_are_refused_unless_the_operator_allows_them() {
    let server = TestServer::start().await;
    let tenant = server.tenant("default").await;
    let site = Site::start().await;
    let key = signing::generate(SigningAlg::ES256);
    let loopback = site.publish("/jwks", key_set(&[&key]));
    let register = |client_id: &str, jwks_uri: &str, jwks: Option<String>| NewClient {
        client_id: client_id.into(),
        name: "Keyed".into(),
        grants: vec![GrantType::ClientCredentials],
        jwks_uri: Some(jwks_uri.into()),
        jwks,
        ..Default::default()
    };
    for (case, new) in [
        ("plain http", register("a", &loopback, None)),
        (
            "a private address",
            register("b", "https://10.0.0.7/jwks", None),
        ),
        (
            "the metadata service",
            register("c", "https://169.254.169.254/latest/jwks", None),
        ),
        (
            "both keys and their address",
            register("d", "https://keys.example/jwks", Some(key_set(&[&key]))),
        ),
    ] {
        match tessera::admin::clients::create(&server.state, &Actor::Cli, &tenant, new).await {
            Err(AppError::Invalid(refused)) => {
                assert_eq!(refused.field(), Some("jwks_uri"), "{case}")
            }
            other => panic!("{case}: {:?}", other.map(|(c, _)| c.client_id)),
        }
    }

    // A name is checked when it is resolved: localhost is loopback, so nothing is fetched.
    let by_name = loopback.replace("http://127.0.0.1", "https://localhost");
    service(&server, "by-name", &by_name).await;
    let (status, body) = token(&server, "by-name", &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(site.hits("/jwks"), 0);
}

/// A client of Alice's sign-ins whose keys are at the site, and the claims of a request
/// object of it.
async fn signing_app(
    server: &TestServer,
    site: &Site,
    key: &signing::NewKeyPair,
) -> (TestClient, serde_json::Map<String, Value>) {
    let new = NewClient {
        client_id: "signer".into(),
        jwks_uri: Some(site.publish("/jwks", key_set(&[key]))),
        require_signed_request_object: true,
        ..Default::default()
    };
    let app = server.register("default", new).await;
    let now = Timestamp::now().unix();
    let mut claims = serde_json::Map::new();
    for (name, value) in AuthRequest::new(&app).set("state", "by-reference").params {
        claims.insert(name, Value::from(value));
    }
    for (name, value) in [
        ("iss", json!(app.client_id)),
        ("aud", json!(server.issuer("default"))),
        ("exp", json!(now + 60)),
        ("jti", json!(random_token(12))),
    ] {
        claims.insert(name.into(), value);
    }
    (app, claims)
}

fn by_reference(server: &TestServer, app: &TestClient, request_uri: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("client_id", app.client_id.as_str()),
        ("request_uri", request_uri),
    ])
    .unwrap();
    format!("{}/authorize?{query}", server.issuer("default"))
}

#[tokio::test]
async fn a_request_object_by_reference_is_the_request() {
    let server = permissive_server().await;
    server.user("default", "alice@example.com").await;
    let site = Site::start().await;
    let key = signing::generate(SigningAlg::ES256);
    let (app, claims) = signing_app(&server, &site, &key).await;
    let request_uri = site.publish("/requests/1", sign(&key, &Value::Object(claims)));

    let callback = server
        .browser()
        .authorize(
            &by_reference(&server, &app, &request_uri),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let params = query(&callback);
    assert!(params.contains_key("code"), "{callback}");
    assert_eq!(params["state"], "by-reference");
    assert_eq!(site.hits("/requests/1"), 1);

    let discovery = server.discovery("default").await;
    assert_eq!(discovery["request_uri_parameter_supported"], true);
    assert_eq!(discovery["require_request_uri_registration"], false);
}

#[tokio::test]
async fn forged_and_missing_request_objects_by_reference_get_an_error_page() {
    let server = permissive_server().await;
    let site = Site::start().await;
    let (key, stranger) = (
        signing::generate(SigningAlg::ES256),
        signing::generate(SigningAlg::ES256),
    );
    let (app, claims) = signing_app(&server, &site, &key).await;
    let cases = [
        (
            "signed by another key",
            site.publish("/requests/forged", sign(&stranger, &Value::Object(claims))),
        ),
        ("not found", format!("{}/requests/missing", site.base)),
        ("not https", "http://keys.example/requests/1".to_owned()),
    ];
    for (case, request_uri) in cases {
        let response = server
            .browser()
            .get(&by_reference(&server, &app, &request_uri))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert!(location(&response).is_none(), "{case}: no redirect");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("The signed request is not valid"),
            "{case}: {page}"
        );
    }
    assert_eq!(
        site.hits("/requests/missing"),
        1,
        "asked, and refused on its 404"
    );

    // RFC 9126 §2.1: a pushed request cannot be by reference.
    let now = Timestamp::now().unix();
    let assertion = sign(
        &key,
        &json!({
            "iss": "signer", "sub": "signer", "jti": random_token(12),
            "aud": format!("{}/par", server.issuer("default")), "iat": now, "exp": now + 60,
        }),
    );
    let response = server
        .http()
        .post(format!("{}/par", server.issuer("default")))
        .form(&[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
            ("request_uri", &format!("{}/requests/forged", site.base)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
}
