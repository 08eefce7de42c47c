//! The authorization code flow with PKCE, driven by the `openidconnect` crate as the relying party.
#![cfg(feature = "ssr")]

mod common;

use common::{hidden, query, AuthRequest, TestServer, PASSWORD};
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

#[tokio::test]
async fn standard_client_completes_the_code_flow_with_pkce() {
    let (server, app) = TestServer::with_alice().await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(server.issuer("default")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.client_id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = server.browser();
    let callback = browser
        .authorize(auth_url.as_str(), "alice@example.com", PASSWORD, "allow")
        .await;
    assert!(callback.starts_with(&app.redirect_uri));
    let params = query(&callback);
    assert_eq!(
        params.get("state"),
        Some(csrf_state.secret()),
        "state is echoed"
    );
    assert_eq!(
        params.get("iss"),
        Some(&server.issuer("default")),
        "RFC 9207 iss is sent"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token validates");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(claims.issuer().as_str(), server.issuer("default"));
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, ["pwd"]);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        userinfo
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice Example")
    );

    let audit: Vec<String> = server
        .audit_actions("default")
        .await
        .into_iter()
        .map(|(a, o, _)| format!("{a}:{o}"))
        .collect();
    for expected in [
        "login.password:success",
        "consent.granted:success",
        "code.issued:success",
        "token.issued:success",
    ] {
        assert!(
            audit.contains(&expected.to_string()),
            "audit has {expected}: {audit:?}"
        );
    }
}

#[tokio::test]
async fn consent_is_remembered_and_a_signed_in_browser_goes_straight_back() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let first = browser
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&first).contains_key("code"));
    let second = browser
        .open(
            &AuthRequest::new(&app)
                .set("state", "again")
                .url(&server, "default"),
        )
        .await;
    let params = query(&second);
    assert!(
        second.starts_with(&app.redirect_uri),
        "no pages on the second visit: {second}"
    );
    assert!(params.contains_key("code"));
    assert_eq!(params["state"], "again");
}

#[tokio::test]
async fn prompt_consent_asks_again_and_prompt_login_asks_for_the_password_again() {
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
    let consent = browser
        .open(
            &AuthRequest::new(&app)
                .set("prompt", "consent")
                .url(&server, "default"),
        )
        .await;
    assert!(consent.contains("/consent?"), "{consent}");
    let login = browser
        .open(
            &AuthRequest::new(&app)
                .set("prompt", "login")
                .url(&server, "default"),
        )
        .await;
    assert!(login.contains("/login?"), "{login}");
    let login = browser
        .open(
            &AuthRequest::new(&app)
                .set("max_age", "0")
                .url(&server, "default"),
        )
        .await;
    assert!(
        login.contains("/login?"),
        "max_age=0 demands a fresh sign-in: {login}"
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required_to_the_client() {
    let (server, app) = TestServer::with_alice().await;
    let callback = server
        .browser()
        .open(
            &AuthRequest::new(&app)
                .set("prompt", "none")
                .url(&server, "default"),
        )
        .await;
    let params = query(&callback);
    assert!(callback.starts_with(&app.redirect_uri));
    assert_eq!(params["error"], "login_required");
    assert_eq!(params["state"], "state-123");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn denying_consent_returns_access_denied_and_no_code() {
    let (server, app) = TestServer::with_alice().await;
    let callback = server
        .browser()
        .authorize(
            &AuthRequest::new(&app).url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "deny",
        )
        .await;
    let params = query(&callback);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "state-123");
    assert!(!params.contains_key("code"));
    let tenant = server.tenant("default").await;
    let user = server
        .state
        .store
        .users
        .by_email(tenant.id, "alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        server
            .state
            .store
            .consents
            .get(tenant.id, user.id, "app")
            .await
            .unwrap()
            .is_none(),
        "no consent stored"
    );
}

#[tokio::test]
async fn form_post_response_mode_returns_an_auto_submitting_form() {
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
    let response = browser
        .get(
            &AuthRequest::new(&app)
                .set("response_mode", "form_post")
                .url(&server, "default"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{}\"", app.redirect_uri)));
    assert!(hidden(&html, "code").is_some_and(|c| c.len() >= 43));
    assert_eq!(hidden(&html, "state").as_deref(), Some("state-123"));
}

#[tokio::test]
async fn public_client_uses_pkce_without_a_secret() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let spa = server.client("default", "spa", true).await;
    let request = AuthRequest::new(&spa);
    let callback = server
        .browser()
        .authorize(
            &request.url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let response = server.exchange_code(&spa, &code, &request.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["id_token"].is_string());
}

#[tokio::test]
async fn discovery_advertises_only_what_is_implemented() {
    let server = TestServer::start().await;
    let doc: serde_json::Value = server
        .http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            server.issuer("default")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], server.issuer("default"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    let issuer = server.issuer("default");
    for (member, path) in [
        ("introspection_endpoint", "introspect"),
        ("revocation_endpoint", "revoke"),
        ("pushed_authorization_request_endpoint", "par"),
        ("device_authorization_endpoint", "device_authorization"),
        ("end_session_endpoint", "logout"),
        ("registration_endpoint", "register"),
    ] {
        assert_eq!(doc[member], format!("{issuer}/{path}"), "{member}");
    }
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "RS256"])
    );
    assert_eq!(
        doc["frontchannel_logout_supported"], false,
        "not implemented, so not advertised"
    );
    let rfc8414: serde_json::Value = server
        .http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/default",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rfc8414, doc);
    let jwks: serde_json::Value = server
        .http()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(
        key.get("d").is_none(),
        "the private part is never published"
    );
}

#[tokio::test]
async fn login_hint_prefills_the_email_field() {
    let (server, app) = TestServer::with_alice().await;
    let browser = server.browser();
    let login = browser
        .open(
            &AuthRequest::new(&app)
                .set("login_hint", "alice@example.com")
                .url(&server, "default"),
        )
        .await;
    let html = browser.page(&login).await;
    assert!(html.contains(r#"value="alice@example.com""#), "{html}");
}

#[tokio::test]
async fn readyz_reports_every_configured_store() {
    let server = TestServer::start().await;
    let response = server
        .http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let backend = common::backends::selected();
    let mut expected = serde_json::Map::new();
    if backend == "redis" {
        expected.insert("main (sqlite)".into(), "ok".into());
        expected.insert("oidc_artifacts (redis)".into(), "ok".into());
    } else {
        expected.insert(format!("main ({backend})"), "ok".into());
    }
    assert_eq!(body["stores"], serde_json::Value::Object(expected));
}
