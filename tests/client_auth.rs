//! Client authentication: `private_key_jwt` (RFC 7523) with replay protection, secret rotation
//! with a grace period, and clients held to the method they registered.
#![cfg(feature = "ssr")]

mod common;

use common::{TestClient, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::admin::{clients::NewClient, Actor};
use tessera::crypto::signing;
use tessera::domain::{GrantType, SigningAlg, Timestamp};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A service client that authenticates with the public half of `key`.
async fn keyed_service(server: &TestServer, key: &signing::NewKeyPair) -> TestClient {
    let new = NewClient {
        client_id: "keyed".into(),
        grants: vec![GrantType::ClientCredentials],
        scopes: vec!["api:read".into()],
        jwks: Some(json!({ "keys": [key.public_jwk] }).to_string()),
        ..Default::default()
    };
    server.register("default", new).await
}

fn assertion(key: &signing::NewKeyPair, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
    )
    .unwrap()
}

fn claims(server: &TestServer, jti: &str) -> Value {
    let now = Timestamp::now().unix();
    json!({
        "iss": "keyed",
        "sub": "keyed",
        "aud": format!("{}/token", server.issuer("default")),
        "jti": jti,
        "iat": now,
        "exp": now + 60,
    })
}

async fn token_with_assertion(server: &TestServer, assertion: &str) -> (StatusCode, Value) {
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn private_key_jwt_authenticates_once_per_assertion() {
    let server = TestServer::start().await;
    let key = signing::generate(SigningAlg::ES256);
    keyed_service(&server, &key).await;

    let first = assertion(&key, claims(&server, "jti-1"));
    let (status, body) = token_with_assertion(&server, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());

    let (status, body) = token_with_assertion(&server, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a replayed assertion"
    );
    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(a, _, reason)| a == "client.authentication"
            && reason.as_deref() == Some("the assertion was used before (replay)")));

    let issuer_audience = assertion(
        &key,
        with(&server, "jti-2", "aud", json!(server.issuer("default"))),
    );
    let (status, _) = token_with_assertion(&server, &issuer_audience).await;
    assert_eq!(status, StatusCode::OK, "the issuer is an accepted audience");
}

/// `claims` as a map, to override members.
fn claims_object(server: &TestServer, jti: &str) -> serde_json::Map<String, Value> {
    claims(server, jti).as_object().unwrap().clone()
}

fn with(server: &TestServer, jti: &str, member: &str, value: Value) -> Value {
    let mut claims = claims_object(server, jti);
    claims.insert(member.into(), value);
    Value::Object(claims)
}

#[tokio::test]
async fn private_key_jwt_refuses_forged_and_careless_assertions() {
    let server = TestServer::start().await;
    let key = signing::generate(SigningAlg::ES256);
    keyed_service(&server, &key).await;
    let stranger = signing::generate(SigningAlg::ES256);
    let now = Timestamp::now().unix();
    let cases: Vec<(&str, String)> = vec![
        (
            "signed with another key",
            assertion(&stranger, claims(&server, "a")),
        ),
        (
            "meant for another server",
            assertion(
                &key,
                with(
                    &server,
                    "b",
                    "aud",
                    json!("https://elsewhere.example/token"),
                ),
            ),
        ),
        (
            "expired",
            assertion(&key, with(&server, "c", "exp", json!(now - 60))),
        ),
        (
            "valid for an hour",
            assertion(&key, with(&server, "d", "exp", json!(now + 3600))),
        ),
        (
            "issued by someone else",
            assertion(&key, with(&server, "e", "iss", json!("other"))),
        ),
        (
            "without a jti",
            assertion(&key, {
                let mut c = claims_object(&server, "f");
                c.remove("jti");
                Value::Object(c)
            }),
        ),
        ("not a JWT", "not.a.jwt".to_string()),
    ];
    for (what, jwt) in cases {
        let (status, body) = token_with_assertion(&server, &jwt).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    // `alg: none`, and HS256 keyed with the public key (algorithm confusion).
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none" })),
        b64(&claims(&server, "g"))
    );
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&server, "h"),
        &jsonwebtoken::EncodingKey::from_secret(key.public_jwk.to_string().as_bytes()),
    )
    .unwrap();
    for jwt in [unsigned, hmac] {
        let (status, _) = token_with_assertion(&server, &jwt).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A secret is no way in for a client registered with keys.
    let with_secret = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .basic_auth("keyed", Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(with_secret.status(), StatusCode::UNAUTHORIZED);
}

fn b64(value: &Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn registering_a_private_key_as_a_client_key_is_refused() {
    let server = TestServer::start().await;
    let tenant = server.tenant("default").await;
    let mut leaked = signing::generate(SigningAlg::ES256).public_jwk;
    leaked["d"] = json!("c2VjcmV0");
    for jwks in [
        json!({ "keys": [leaked] }).to_string(),
        json!({ "keys": [] }).to_string(),
        "not json".to_string(),
    ] {
        let new = NewClient {
            client_id: "bad-keys".into(),
            name: "Bad keys".into(),
            grants: vec![GrantType::ClientCredentials],
            jwks: Some(jwks.clone()),
            ..Default::default()
        };
        let refused =
            tessera::admin::clients::create(&server.state, &Actor::Cli, &tenant, new).await;
        assert!(
            matches!(refused, Err(tessera::error::AppError::Invalid(_))),
            "{jwks}"
        );
    }
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_for_its_grace_period_only() {
    let server = TestServer::start().await;
    let service = server
        .client_with(
            "default",
            "rotating",
            false,
            &[GrantType::ClientCredentials],
            &["api:read"],
            &[],
        )
        .await;
    let first = service.secret.clone().unwrap();
    let tenant = server.tenant("default").await;
    let rotate = |grace| {
        tessera::admin::clients::rotate_secret(
            &server.state,
            &Actor::Cli,
            &tenant,
            "rotating",
            grace,
        )
    };
    let second = rotate(3600).await.unwrap();
    assert_eq!(
        server
            .client_credentials("default", "rotating", &first)
            .await,
        StatusCode::OK,
        "in its grace period"
    );
    assert_eq!(
        server
            .client_credentials("default", "rotating", &second)
            .await,
        StatusCode::OK
    );

    let third = rotate(0).await.unwrap();
    assert_eq!(
        server
            .client_credentials("default", "rotating", &third)
            .await,
        StatusCode::OK
    );
    assert_eq!(
        server
            .client_credentials("default", "rotating", &second)
            .await,
        StatusCode::UNAUTHORIZED,
        "no grace period"
    );
    assert_eq!(
        server
            .client_credentials("default", "rotating", &first)
            .await,
        StatusCode::UNAUTHORIZED,
        "only the last secret before the rotation has a grace period"
    );
    let audit = server.audit_actions("default").await;
    assert_eq!(
        audit
            .iter()
            .filter(|(a, _, _)| a == "client.secret_rotated")
            .count(),
        2
    );
}

#[tokio::test]
async fn clients_are_held_to_the_authentication_method_they_registered() {
    let (server, app) = TestServer::with_alice().await;
    let spa = server.client("default", "spa", true).await;
    let token = format!("{}/token", server.issuer("default"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", "x"),
    ];
    let nothing = server
        .http()
        .post(&token)
        .form(&[
            ("client_id", app.client_id.as_str()),
            form[0],
            form[1],
            form[2],
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        nothing.status(),
        StatusCode::UNAUTHORIZED,
        "a secret client must send its secret"
    );
    let public_with_secret = server
        .http()
        .post(&token)
        .basic_auth(&spa.client_id, Some("made-up"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(public_with_secret.status(), StatusCode::UNAUTHORIZED);
}
