//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): an
//! application registers itself with the `openidconnect` crate's registration client and signs
//! a person in; refused registrations change nothing; a registration access token manages
//! only its own application, and is rotated by every replacement.
#![cfg(feature = "ssr")]

mod common;

use common::{query, AuthRequest, TestClient, TestServer, PASSWORD};
use openidconnect::core::{
    CoreClientAuthMethod, CoreClientRegistrationRequest, CoreGrantType, CoreProviderMetadata,
    CoreResponseType,
};
use openidconnect::registration::EmptyAdditionalClientMetadata;
use openidconnect::{
    AccessToken, ClientName, IssuerUrl, RedirectUrl, RegistrationUrl, ResponseTypes,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::admin::{initial_tokens, Actor};
use tessera::domain::{InitialAccessToken, Timestamp};

const CALLBACK: &str = "http://127.0.0.1:8123/callback";

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An initial access token of `slug` allowing `uses` registrations.
async fn initial_token(server: &TestServer, slug: &str, uses: i64) -> String {
    let tenant = server.tenant(slug).await;
    let made = initial_tokens::create(&server.state, &Actor::Cli, &tenant, "Partners", uses, 7)
        .await
        .expect("initial access token");
    made.secret
}

/// Posts `metadata` to the registration endpoint of `slug` with `token` as bearer.
async fn post(server: &TestServer, slug: &str, token: Option<&str>, metadata: &Value) -> (StatusCode, Value) {
    let mut request = server
        .http()
        .post(format!("{}/register", server.issuer(slug)))
        .json(metadata);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `method` on the registration's configuration URL with `token` as bearer.
async fn manage(
    server: &TestServer,
    method: reqwest::Method,
    uri: &str,
    token: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = server.http().request(method, uri).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn client_count(server: &TestServer, slug: &str) -> usize {
    let tenant = server.tenant(slug).await;
    server.state.store.clients.list(tenant.id).await.unwrap().len()
}

async fn uses(server: &TestServer, slug: &str) -> Vec<i64> {
    let tenant = server.tenant(slug).await;
    let tokens = server.state.store.initial_tokens.list(tenant.id).await.unwrap();
    tokens.iter().map(|t| t.uses).collect()
}

#[tokio::test]
async fn an_application_registers_itself_with_a_client_library_and_signs_a_person_in() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let token = initial_token(&server, "default", 2).await;

    let issuer = IssuerUrl::new(server.issuer("default")).unwrap();
    let provider = CoreProviderMetadata::discover_async(issuer, &http())
        .await
        .expect("discovery");
    let endpoint: &RegistrationUrl = provider
        .registration_endpoint()
        .expect("discovery advertises the registration endpoint (RFC 8414 §2)");
    let registered = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(CALLBACK.into()).unwrap()],
        EmptyAdditionalClientMetadata {},
    )
    .set_client_name(Some(
        vec![(None, ClientName::new("Partner portal".into()))]
            .into_iter()
            .collect(),
    ))
    .set_grant_types(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .set_response_types(Some(vec![ResponseTypes::new(vec![CoreResponseType::Code])]))
    .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::ClientSecretPost))
    .set_initial_access_token(Some(AccessToken::new(token.clone())))
    .register_async(endpoint, &http())
    .await
    .expect("registered");

    let client_id = registered.client_id().to_string();
    let secret = registered.client_secret().expect("a secret").secret().clone();
    assert!(registered.registration_access_token().is_some());
    assert_eq!(
        registered.registration_client_uri().unwrap().to_string(),
        format!("{}/register/{client_id}", server.issuer("default"))
    );
    assert_eq!(
        registered.token_endpoint_auth_method(),
        Some(&CoreClientAuthMethod::ClientSecretPost)
    );
    assert_eq!(uses(&server, "default").await, [1], "one use of the token spent");

    // The console shows it as self-registered; it signs alice in like any other.
    let tenant = server.tenant("default").await;
    let stored = server
        .state
        .store
        .clients
        .by_client_id(tenant.id, &client_id)
        .await
        .unwrap()
        .expect("stored");
    assert!(stored.registration_token_hash.is_some());
    assert_eq!(stored.name, "Partner portal");
    assert!(stored.require_consent, "a person consents to a self-registered application");
    let app = TestClient {
        client_id: client_id.clone(),
        secret: None,
        redirect_uri: CALLBACK.into(),
    };
    let request = AuthRequest::new(&app).set("scope", "openid email");
    let callback = server
        .browser()
        .authorize(&request.url(&server, "default"), "alice@example.com", PASSWORD, "allow")
        .await;
    let code = query(&callback)["code"].clone();
    let tokens: Value = server
        .http()
        .post(format!("{}/token", server.issuer("default")))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", request.verifier.as_str()),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    let audit = server.audit_actions("default").await;
    let registered = audit
        .iter()
        .find(|(action, outcome, _)| action == "client.registered" && outcome == "success");
    assert!(registered.is_some(), "{audit:?}");
}

#[tokio::test]
async fn refused_registrations_say_which_field_and_change_nothing() {
    let server = TestServer::start().await;
    let token = initial_token(&server, "default", 5).await;
    let before = client_count(&server, "default").await;
    let good = json!({ "redirect_uris": [CALLBACK], "client_name": "App" });

    // Hostile redirect URIs: RFC 7591 §3.2.2 invalid_redirect_uri.
    for uri in [
        "javascript:alert(document.cookie)",
        "http://evil.example/callback",
        "https://app.example/cb#fragment",
        "https://*.example/callback",
        "https://user:password@app.example/cb",
        "/relative/callback",
        "data:text/html,<script>alert(1)</script>",
    ] {
        let metadata = json!({ "redirect_uris": [uri], "client_name": "App" });
        let (status, body) = post(&server, "default", Some(&token), &metadata).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}: {body}");
    }
    let (status, body) = post(&server, "default", Some(&token), &json!({ "client_name": "App" })).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")));

    // Other metadata: invalid_client_metadata, naming the field.
    let refused = [
        (json!({ "response_types": ["token"] }), "response_types"),
        (json!({ "grant_types": ["implicit"] }), "grant_types"),
        (json!({ "grant_types": ["authorization_code"], "response_types": [] }), "response_types"),
        (json!({ "token_endpoint_auth_method": "client_secret_jwt" }), "token_endpoint_auth_method"),
        (json!({ "token_endpoint_auth_method": "private_key_jwt" }), "jwks"),
        (json!({ "scope": "openid tessera:users:manage" }), "scope"),
        (json!({ "scope": "openid orders:write" }), "scope"),
        (json!({ "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"] }), "grant_types"),
        (json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }), "jwks"),
        (json!({ "jwks": { "keys": [] }, "jwks_uri": "https://app.example/jwks" }), "jwks_uri"),
        (json!({ "logo_uri": "http://app.example/logo.png" }), "logo_uri"),
        (json!({ "client_name": "x".repeat(500) }), "client_name"),
        (json!({ "id_token_signed_response_alg": "none" }), "id_token_signed_response_alg"),
        (json!({ "application_type": "desktop" }), "application_type"),
        (json!({ "client_id": "chosen-by-me" }), "client_id"),
        (json!({ "registration_access_token": "tsr_mine" }), "registration_access_token"),
        (json!({ "redirect_uris": "https://app.example/cb" }), "wrong type"),
    ];
    for (change, field) in refused {
        let mut metadata = good.clone();
        for (k, v) in change.as_object().unwrap() {
            metadata[k] = v.clone();
        }
        let (status, body) = post(&server, "default", Some(&token), &metadata).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{metadata}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{metadata}: {body}");
        let said = body["error_description"].as_str().unwrap();
        assert!(said.contains(field), "{said:?} names {field}");
    }
    // Not JSON, or not an object.
    for (content_type, raw) in [
        ("application/json", "{not json"),
        ("application/json", "[1, 2]"),
        ("application/x-www-form-urlencoded", "redirect_uris=https%3A%2F%2Fapp.example%2Fcb"),
    ] {
        let response = server
            .http()
            .post(format!("{}/register", server.issuer("default")))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata");
    }
    assert_eq!(client_count(&server, "default").await, before, "nothing registered");
    assert_eq!(uses(&server, "default").await, [0], "refused metadata spends no use");

    // The token itself: missing, malformed, unknown, of another tenant, expired, used up, revoked.
    let tenant = server.tenant("default").await;
    let other = initial_token(&server, "other", 5).await;
    let expired_secret = format!("tsi_{}", "e".repeat(43));
    let created = Timestamp::now().plus_secs(-8 * 86_400);
    let expired = InitialAccessToken::new(
        tenant.id,
        "Old",
        5,
        7,
        "tsi_eeeeee".into(),
        tessera::crypto::sha256_hex(&expired_secret),
        "cli".into(),
        created,
    )
    .unwrap();
    server.state.store.initial_tokens.create(tenant.id, &expired).await.unwrap();
    let once = initial_token(&server, "default", 1).await;
    let (status, _) = post(&server, "default", Some(&once), &good).await;
    assert_eq!(status, StatusCode::CREATED);
    let revoked = initial_token(&server, "default", 1).await;
    let listed = server.state.store.initial_tokens.list(tenant.id).await.unwrap();
    initial_tokens::revoke(&server.state, &Actor::Cli, &tenant, listed[0].id)
        .await
        .unwrap();
    let after_once = client_count(&server, "default").await;
    let unknown = format!("tsi_{}", "u".repeat(43));
    for (what, presented) in [
        ("missing", None),
        ("malformed", Some("not-a-token")),
        ("unknown", Some(unknown.as_str())),
        ("another tenant's", Some(other.as_str())),
        ("expired", Some(expired_secret.as_str())),
        ("used up", Some(once.as_str())),
        ("revoked", Some(revoked.as_str())),
    ] {
        let (status, body) = post(&server, "default", presented, &good).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    }
    assert_eq!(client_count(&server, "default").await, after_once, "nothing registered");
    let refusals = server
        .audit_actions("default")
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "client.registration_refused")
        .count();
    assert!(refusals >= 7, "each refusal audited ({refusals})");
}

#[tokio::test]
async fn a_registration_access_token_manages_its_own_application_only() {
    let server = TestServer::start().await;
    let token = initial_token(&server, "default", 5).await;
    let console_app = server.client("default", "console-app", false).await;
    let metadata = json!({
        "redirect_uris": [CALLBACK],
        "client_name": "Mine",
        "scope": "openid email",
        "contacts": ["ops@app.example"],
    });
    let (status, mine) = post(&server, "default", Some(&token), &metadata).await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let (_, theirs) = post(&server, "default", Some(&token), &metadata).await;
    let uri = mine["registration_client_uri"].as_str().unwrap().to_owned();
    let my_token = mine["registration_access_token"].as_str().unwrap().to_owned();
    let their_token = theirs["registration_access_token"].as_str().unwrap();
    let secret = mine["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(mine["client_secret_expires_at"], 0);
    assert!(mine.get("contacts").is_none(), "metadata Tessera does not keep is not echoed");

    // RFC 7592 §2.1: read with its own token; every other token, or none, is refused alike.
    let (status, read) = manage(&server, reqwest::Method::GET, &uri, &my_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["client_id"], mine["client_id"]);
    assert_eq!(read["scope"], "openid email");
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none());
    let console_uri = format!("{}/register/{}", server.issuer("default"), console_app.client_id);
    let other_tenant_uri = uri.replace("/t/default/", "/t/other/");
    server.tenant("other").await;
    for (what, at, presented) in [
        ("another application's token", uri.as_str(), their_token),
        ("an initial access token", uri.as_str(), token.as_str()),
        ("a made-up token", uri.as_str(), "tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("a console application", console_uri.as_str(), my_token.as_str()),
        ("another tenant", other_tenant_uri.as_str(), my_token.as_str()),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let (status, body) = manage(&server, method.clone(), at, presented, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} {method}: {body}");
            assert_eq!(body["error"], "invalid_token");
        }
    }
    let unauthenticated = server.http().get(&uri).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(unauthenticated.headers().contains_key("www-authenticate"));

    // RFC 7592 §2.2: a replacement must name the client, may not set what the server sets,
    // nor send another secret, nor turn a confidential application public.
    let client_id = mine["client_id"].as_str().unwrap();
    let replacement = json!({
        "client_id": client_id,
        "redirect_uris": [CALLBACK, "https://app.example/callback"],
        "client_name": "Mine, renamed",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid email offline_access",
    });
    let put = reqwest::Method::PUT;
    for (change, code) in [
        (json!({ "client_id": null }), "invalid_client_metadata"),
        (json!({ "client_id": "someone-else" }), "invalid_client_metadata"),
        (json!({ "client_secret": "not-the-secret" }), "invalid_client_metadata"),
        (json!({ "registration_access_token": my_token }), "invalid_client_metadata"),
        (json!({ "token_endpoint_auth_method": "none" }), "invalid_client_metadata"),
        (json!({ "redirect_uris": ["http://evil.example/cb"] }), "invalid_redirect_uri"),
    ] {
        let mut body = replacement.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = manage(&server, put.clone(), &uri, &my_token, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"], code, "{body}: {answer}");
    }
    let (_, unchanged) = manage(&server, reqwest::Method::GET, &uri, &my_token, None).await;
    assert_eq!(unchanged, read, "refused replacements changed nothing");

    let mut body = replacement.clone();
    body["client_secret"] = json!(secret);
    let (status, replaced) = manage(&server, put.clone(), &uri, &my_token, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["client_name"], "Mine, renamed");
    assert_eq!(replaced["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(replaced["scope"], "openid email offline_access");
    assert!(replaced.get("client_secret").is_none(), "the secret stays");
    let rotated = replaced["registration_access_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, my_token, "the registration access token is rotated");
    let (status, _) = manage(&server, reqwest::Method::GET, &uri, &my_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old token no longer works");
    // The secret still authenticates the application.
    let introspected = server
        .http()
        .post(format!("{}/introspect", server.issuer("default")))
        .basic_auth(client_id, Some(&secret))
        .form(&[("token", "nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::OK);

    // RFC 7592 §2.3: deleted; its token then opens nothing, and its secret is refused.
    let (status, _) = manage(&server, reqwest::Method::DELETE, &uri, &rotated, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = manage(&server, reqwest::Method::GET, &uri, &rotated, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let introspected = server
        .http()
        .post(format!("{}/introspect", server.issuer("default")))
        .basic_auth(client_id, Some(&secret))
        .form(&[("token", "nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::UNAUTHORIZED);
    // The other application and the console's are untouched.
    let tenant = server.tenant("default").await;
    let clients = server.state.store.clients.list(tenant.id).await.unwrap();
    let ids: Vec<&str> = clients.iter().map(|c| c.client_id.as_str()).collect();
    assert!(ids.contains(&"console-app") && ids.contains(&theirs["client_id"].as_str().unwrap()));
    assert!(!ids.contains(&client_id));
}

#[tokio::test]
async fn open_registration_needs_no_token_and_is_limited_per_address() {
    let server = TestServer::start().await;
    let tenant = server.tenant("default").await;
    let metadata = json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none" });
    let (status, _) = post(&server, "default", None, &metadata).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "closed by default");

    let mut settings = tenant.settings.clone();
    settings.open_registration = true;
    tessera::admin::tenants::update_policies(&server.state, &Actor::Cli, &tenant, settings)
        .await
        .unwrap();
    let (status, public) = post(&server, "default", None, &metadata).await;
    assert_eq!(status, StatusCode::CREATED, "{public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert!(public.get("client_secret").is_none(), "a public client has no secret");
    assert_eq!(public["client_name"], "Unnamed application");
    // A bad initial access token is refused even where none is needed.
    let (status, _) = post(&server, "default", Some("tsi_nope"), &metadata).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut last = StatusCode::CREATED;
    let mut registered = 1;
    while last == StatusCode::CREATED && registered < 40 {
        last = post(&server, "default", None, &metadata).await.0;
        registered += 1;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "after {registered}");
    assert_eq!(registered, 21, "twenty open registrations an hour from one address");
    // An initial access token is not limited by the address's count.
    let token = initial_token(&server, "default", 1).await;
    let (status, _) = post(&server, "default", Some(&token), &metadata).await;
    assert_eq!(status, StatusCode::CREATED);
}
