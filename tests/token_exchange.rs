//! Token exchange (RFC 8693): a service sent a person's access token exchanges it for one to
//! call another API for them, within its policy; the new token names the service as actor, and
//! a chain of exchanges nests the actors. Exchanges outside the policy are refused and audited.
#![cfg(feature = "ssr")]

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::{query, AuthRequest, TestClient, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::admin::clients::NewClient;
use tessera::domain::{ExchangePolicy, GrantType};

const ORDERS: &str = "https://orders.example.com/";
const BILLING: &str = "https://billing.example.com/";
const LEDGER: &str = "https://ledger.example.com/";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A service that is the API `resource` and may exchange its tokens for `audiences`.
async fn service(
    server: &TestServer,
    client_id: &str,
    resource: &str,
    audiences: &[&str],
) -> TestClient {
    let new = NewClient {
        client_id: client_id.into(),
        grants: vec![GrantType::TokenExchange],
        scopes: vec!["billing:read".into()],
        resources: vec![resource.into()],
        exchange: ExchangePolicy {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            scopes: vec!["billing:read".into(), "openid".into()],
        },
        ..Default::default()
    };
    server.register("default", new).await
}

/// Alice's access token for the orders API, from the web app `app`.
async fn alices_token(server: &TestServer, app: &TestClient) -> String {
    let request = AuthRequest::new(app).set("scope", "openid orders:read billing:read");
    let callback = server
        .browser()
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", request.verifier.as_str()),
            ("resource", ORDERS),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["access_token"]
        .as_str()
        .expect("alice's token")
        .to_owned()
}

async fn exchange(
    server: &TestServer,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut fields = vec![("grant_type", EXCHANGE)];
    fields.extend_from_slice(form);
    let response = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn set_up() -> (TestServer, TestClient, String) {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "web",
            false,
            &[GrantType::AuthorizationCode],
            &["openid", "orders:read", "billing:read"],
            &[ORDERS],
        )
        .await;
    let subject = alices_token(&server, &app).await;
    (server, app, subject)
}

#[tokio::test]
async fn a_service_acts_for_the_person_within_its_policy_and_chains_nest() {
    let (server, _, subject) = set_up().await;
    let orders = service(&server, "orders", ORDERS, &[BILLING]).await;
    let (status, body) = exchange(
        &server,
        &orders,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("audience", BILLING),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let issued = body["access_token"].as_str().unwrap().to_owned();
    let claims = payload(&issued);
    assert_eq!(claims["sub"], payload(&subject)["sub"], "still the person");
    assert_eq!(claims["aud"], BILLING);
    assert_eq!(claims["scope"], "billing:read", "openid is never exchanged");
    assert_eq!(
        claims["act"],
        json!({ "sub": "orders", "client_id": "orders" })
    );

    // The billing API, sent that token, exchanges it in turn: the actors nest.
    let billing = service(&server, "billing", BILLING, &[LEDGER]).await;
    let (status, body) = exchange(
        &server,
        &billing,
        &[
            ("subject_token", &issued),
            ("subject_token_type", ACCESS_TOKEN),
            ("resource", LEDGER),
            ("scope", "billing:read"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let chained = payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        chained["act"],
        json!({ "sub": "billing", "client_id": "billing",
                "act": { "sub": "orders", "client_id": "orders" } })
    );

    let audit = server.audit_actions("default").await;
    assert!(audit
        .iter()
        .any(|(action, _, reason)| action == "token.issued"
            && reason.as_deref() == Some("token_exchange")));
}

/// What is tried, by whom, with which form, and the error expected.
type Case<'a> = (&'a str, &'a TestClient, Vec<(&'a str, String)>, &'a str);

#[tokio::test]
async fn exchanges_outside_the_policy_are_refused_and_audited() {
    let (server, app, subject) = set_up().await;
    let orders = service(&server, "orders", ORDERS, &[BILLING]).await;
    // A service with a policy, but not the API Alice's token was sent to.
    let stranger = service(&server, "stranger", LEDGER, &[BILLING]).await;
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut form: Vec<(&str, String)> = vec![
            ("subject_token", subject.clone()),
            ("subject_token_type", ACCESS_TOKEN.into()),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        form
    };
    let cases: Vec<Case> = vec![
        (
            "an audience outside the policy",
            &orders,
            base(&[("audience", LEDGER)]),
            "invalid_target",
        ),
        ("no audience", &orders, base(&[]), "invalid_request"),
        (
            "a scope outside the policy",
            &orders,
            base(&[("audience", BILLING), ("scope", "orders:read")]),
            "invalid_scope",
        ),
        (
            "a scope of signing in",
            &orders,
            base(&[("audience", BILLING), ("scope", "openid")]),
            "invalid_scope",
        ),
        (
            "a token sent to another API",
            &stranger,
            base(&[("audience", BILLING)]),
            "invalid_request",
        ),
        (
            "another subject token type",
            &orders,
            vec![
                ("subject_token", subject.clone()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token".into(),
                ),
                ("audience", BILLING.into()),
            ],
            "invalid_request",
        ),
        (
            "a forged subject token",
            &orders,
            vec![
                ("subject_token", format!("{subject}x")),
                ("subject_token_type", ACCESS_TOKEN.into()),
                ("audience", BILLING.into()),
            ],
            "invalid_request",
        ),
        (
            "an actor token of someone else",
            &orders,
            {
                let mut form = base(&[("audience", BILLING)]);
                form.push(("actor_token", subject.clone()));
                form.push(("actor_token_type", ACCESS_TOKEN.into()));
                form
            },
            "invalid_request",
        ),
        (
            "a client not allowed the grant",
            &app,
            base(&[("audience", BILLING)]),
            "unauthorized_client",
        ),
    ];
    for (case, client, form, error) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = exchange(&server, client, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{case}: {body}"
        );
    }
    let refusals = server
        .audit_actions("default")
        .await
        .into_iter()
        .filter(|(action, ..)| action == "token.exchange_refused")
        .count();
    assert!(
        refusals >= 7,
        "each refused exchange is audited ({refusals})"
    );
}
