//! Signed authorization requests (JAR, RFC 9101): a request object signed with the client's
//! key replaces the request's other parameters, at `/authorize` and pushed to `/par`; forged,
//! unsigned, stale, misaddressed and replayed ones are refused, and a client can be held to
//! signing its requests.
#![cfg(feature = "ssr")]

mod common;

use common::{location, query, AuthRequest, TestClient, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::admin::clients::NewClient;
use tessera::crypto::{random_token, signing};
use tessera::domain::{SigningAlg, Timestamp};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client authenticating with `key` (private_key_jwt), which also signs its requests.
async fn keyed_app(server: &TestServer, key: &signing::NewKeyPair, strict: bool) -> TestClient {
    let new = NewClient {
        client_id: "signer".into(),
        jwks: Some(json!({ "keys": [key.public_jwk] }).to_string()),
        require_signed_request_object: strict,
        ..Default::default()
    };
    server.register("default", new).await
}

fn sign(key: &signing::NewKeyPair, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("oauth-authz-req+jwt".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
    )
    .unwrap()
}

/// The claims of a request object for `app`: its authorization request, addressed to the
/// tenant's issuer, valid for a minute.
fn request_claims(server: &TestServer, app: &TestClient) -> serde_json::Map<String, Value> {
    let now = Timestamp::now().unix();
    let mut claims = serde_json::Map::new();
    for (name, value) in AuthRequest::new(app).set("state", "signed-state").params {
        claims.insert(name, Value::from(value));
    }
    claims.insert("iss".into(), json!(app.client_id));
    claims.insert("aud".into(), json!(server.issuer("default")));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 60));
    claims.insert("jti".into(), json!(random_token(12)));
    claims
}

fn with(mut claims: serde_json::Map<String, Value>, name: &str, value: Value) -> Value {
    claims.insert(name.into(), value);
    Value::Object(claims)
}

/// `/authorize` with a request object, and outer parameters that must not count.
fn authorize_url(server: &TestServer, app: &TestClient, request: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("client_id", app.client_id.as_str()),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "outer-state"),
        ("request", request),
    ])
    .unwrap();
    format!("{}/authorize?{query}", server.issuer("default"))
}

#[tokio::test]
async fn a_signed_request_is_the_request_and_works_once() {
    let (server, _) = TestServer::with_alice().await;
    let key = signing::generate(SigningAlg::ES256);
    let app = keyed_app(&server, &key, true).await;
    let request = sign(&key, &Value::Object(request_claims(&server, &app)));
    let url = authorize_url(&server, &app, &request);
    let callback = server
        .browser()
        .authorize(&url, "alice@example.com", PASSWORD, "allow")
        .await;
    assert!(callback.starts_with(&app.redirect_uri), "{callback}");
    let params = query(&callback);
    assert!(params.contains_key("code"), "{callback}");
    assert_eq!(
        params["state"], "signed-state",
        "the signed state, not the one beside it"
    );

    let replayed = server.browser().get(&url).await;
    assert_eq!(
        replayed.status(),
        StatusCode::BAD_REQUEST,
        "a request object works once"
    );
    assert!(
        location(&replayed).is_none(),
        "an error page, not a redirect"
    );

    let discovery = server.discovery("default").await;
    assert_eq!(discovery["request_parameter_supported"], true);
    let algs = discovery["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("none")));
}

#[tokio::test]
async fn forged_and_careless_request_objects_get_an_error_page() {
    let (server, _) = TestServer::with_alice().await;
    let key = signing::generate(SigningAlg::ES256);
    let stranger = signing::generate(SigningAlg::ES256);
    let app = keyed_app(&server, &key, false).await;
    let claims = || request_claims(&server, &app);
    let now = Timestamp::now().unix();
    let unsigned = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(Value::Object(claims()).to_string())
        )
    };
    let cases = [
        (
            "signed by another key",
            sign(&stranger, &Value::Object(claims())),
        ),
        ("unsigned (alg none)", unsigned),
        (
            "expired",
            sign(&key, &with(claims(), "exp", json!(now - 60))),
        ),
        (
            "living for a day",
            sign(&key, &with(claims(), "exp", json!(now + 86_400))),
        ),
        (
            "for another server",
            sign(
                &key,
                &with(claims(), "aud", json!("https://elsewhere.example/")),
            ),
        ),
        (
            "from another client",
            sign(&key, &with(claims(), "iss", json!("someone-else"))),
        ),
        (
            "naming another client inside",
            sign(&key, &with(claims(), "client_id", json!("someone-else"))),
        ),
        (
            "holding a request of its own",
            sign(&key, &with(claims(), "request", json!("x.y.z"))),
        ),
        ("not a JWT", "not-a-jwt".to_string()),
    ];
    for (case, request) in cases {
        let response = server
            .browser()
            .get(&authorize_url(&server, &app, &request))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert!(location(&response).is_none(), "{case}: no redirect");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("The signed request is not valid"),
            "{case}: {page}"
        );
    }
}

/// A client assertion (RFC 7523) of `app` for the PAR endpoint.
fn assertion(server: &TestServer, app: &TestClient, key: &signing::NewKeyPair) -> String {
    let now = Timestamp::now().unix();
    sign(
        key,
        &json!({
            "iss": app.client_id, "sub": app.client_id, "jti": random_token(12),
            "aud": format!("{}/par", server.issuer("default")), "iat": now, "exp": now + 60,
        }),
    )
}

async fn push(
    server: &TestServer,
    app: &TestClient,
    key: &signing::NewKeyPair,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let assertion = assertion(server, app, key);
    let mut form = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    form.extend_from_slice(params);
    let response = server
        .http()
        .post(format!("{}/par", server.issuer("default")))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_held_to_signing_pushes_or_sends_signed_requests_only() {
    let (server, _) = TestServer::with_alice().await;
    let key = signing::generate(SigningAlg::ES256);
    let stranger = signing::generate(SigningAlg::ES256);
    let app = keyed_app(&server, &key, true).await;

    // Plain requests are refused: at /authorize with an error for the client, at /par outright.
    let plain = server
        .browser()
        .get(&AuthRequest::new(&app).url(&server, "default"))
        .await;
    let to = location(&plain).expect("an error for the client");
    assert!(to.starts_with(&app.redirect_uri), "{to}");
    assert_eq!(query(&to)["error"], "invalid_request");
    let params = AuthRequest::new(&app).params;
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = push(&server, &app, &key, &params).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );

    let forged = sign(&stranger, &Value::Object(request_claims(&server, &app)));
    let (status, body) = push(&server, &app, &key, &[("request", &forged)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request_object")),
        "{body}"
    );

    // Pushed signed: the browser carries only the request_uri.
    let signed = sign(&key, &Value::Object(request_claims(&server, &app)));
    let (status, body) = push(&server, &app, &key, &[("request", &signed)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let query_string = serde_urlencoded::to_string([
        ("client_id", app.client_id.as_str()),
        ("request_uri", body["request_uri"].as_str().unwrap()),
    ])
    .unwrap();
    let callback = server
        .browser()
        .authorize(
            &format!("{}/authorize?{query_string}", server.issuer("default")),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let params = query(&callback);
    assert!(params.contains_key("code"), "{callback}");
    assert_eq!(params["state"], "signed-state");
}
