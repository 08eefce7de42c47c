//! Refresh-token rotation and reuse detection, client credentials, introspection and
//! revocation, driven by the `openidconnect` crate (and the `oauth2` crate it builds on) as the
//! client. Revocation requests are sent directly: the crate refuses to revoke over plain http
//! (RFC 7009 §5 wants TLS), and these tests run on loopback without it.
#![cfg(feature = "ssr")]

mod common;

use common::{hidden, location, query, AuthRequest, Browser, TestClient, TestServer, PASSWORD};
use openidconnect::{
    core::{CoreClient, CoreProviderMetadata},
    AccessToken, AuthorizationCode, ClientId, ClientSecret, IntrospectionUrl, IssuerUrl,
    OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl, Scope, TokenIntrospectionResponse,
    TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::domain::GrantType;

const API: &str = "https://api.example.com/";

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A relying party for `app`, from discovery, with the introspection URL the discovery
/// document advertises.
async fn relying_party(server: &TestServer, app: &TestClient) -> RelyingParty {
    let issuer = IssuerUrl::new(server.issuer("default")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http())
        .await
        .expect("discovery");
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        server.issuer("default")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.client_id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap())
    .set_introspection_url(
        IntrospectionUrl::new(doc["introspection_endpoint"].as_str().unwrap().into()).unwrap(),
    );
    client
}

type RelyingParty = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A server with alice and a confidential client `app` that may refresh.
async fn refreshing_app() -> (TestServer, TestClient) {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "app",
            false,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &["openid", "profile", "email", "offline_access"],
            &[API],
        )
        .await;
    (server, app)
}

/// Signs alice in for `scope`; returns the code and the PKCE verifier.
async fn authorize(server: &TestServer, app: &TestClient, scope: &str) -> (String, String) {
    authorize_in(&server.browser(), server, app, scope).await
}

/// As [`authorize`], in `browser` (which stays signed in).
async fn authorize_in(
    browser: &Browser,
    server: &TestServer,
    app: &TestClient,
    scope: &str,
) -> (String, String) {
    let request = AuthRequest::new(app).set("scope", scope);
    let callback = browser
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    (query(&callback)["code"].clone(), request.verifier)
}

/// Signs alice in and exchanges the code; returns the token response.
async fn sign_in(
    server: &TestServer,
    rp: &RelyingParty,
    app: &TestClient,
) -> openidconnect::core::CoreTokenResponse {
    sign_in_from(&server.browser(), server, rp, app).await
}

/// As [`sign_in`], in `browser` (which stays signed in).
async fn sign_in_from(
    browser: &Browser,
    server: &TestServer,
    rp: &RelyingParty,
    app: &TestClient,
) -> openidconnect::core::CoreTokenResponse {
    let (code, verifier) = authorize_in(browser, server, app, "openid email offline_access").await;
    rp.exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http())
        .await
        .expect("code exchange")
}

/// RFC 7009 revocation of `token` by `client`; the status of the answer.
async fn revoke(server: &TestServer, client: &TestClient, token: &str) -> StatusCode {
    server
        .http()
        .post(format!("{}/revoke", server.issuer("default")))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn userinfo_status(server: &TestServer, access_token: &str) -> StatusCode {
    server
        .http()
        .get(format!("{}/userinfo", server.issuer("default")))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

/// The error code of a failed token request, or "ok".
fn outcome<T, RE: std::error::Error + 'static>(
    result: Result<
        T,
        openidconnect::RequestTokenError<
            RE,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    >,
) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(openidconnect::RequestTokenError::ServerResponse(e)) => e.error().as_ref().to_string(),
        Err(other) => format!("unexpected: {other:?}"),
    }
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_revokes_the_family() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let first = sign_in(&server, &rp, &app).await;
    let r1 = first.refresh_token().expect("a refresh token").clone();

    let second = rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&http())
        .await
        .expect("refresh");
    let r2 = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(r1.secret(), r2.secret(), "rotated on use");
    let id_token = second.id_token().expect("a fresh ID token");
    let claims = id_token
        .claims(
            &rp.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(()),
        )
        .expect("the refreshed ID token validates");
    assert!(claims.auth_time().is_some(), "auth_time of the sign-in");
    let a2 = second.access_token().secret().clone();
    assert_eq!(userinfo_status(&server, &a2).await, StatusCode::OK);

    // The rotated token again: a thief and the client now both hold the family.
    let reuse = rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(reuse), "invalid_grant");
    let after = rp
        .exchange_refresh_token(&r2)
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(after), "invalid_grant", "the whole family is dead");
    assert_eq!(
        userinfo_status(&server, &a2).await,
        StatusCode::UNAUTHORIZED,
        "and the access tokens it issued"
    );
    let audit = server.audit_actions("default").await;
    assert!(
        audit
            .iter()
            .any(|(a, o, _)| a == "refresh.reused" && o == "failure"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_never_widen_it() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let first = sign_in(&server, &rp, &app).await;
    let r1 = first.refresh_token().unwrap().clone();

    let wider = rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http())
        .await;
    assert_eq!(outcome(wider), "invalid_scope");

    let narrow = rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .request_async(&http())
        .await
        .expect("a narrower scope is fine");
    let scopes: Vec<String> = narrow
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid"]);

    let full = rp
        .exchange_refresh_token(narrow.refresh_token().unwrap())
        .unwrap()
        .request_async(&http())
        .await
        .expect("the next refresh");
    let mut scopes: Vec<String> = full
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        ["email", "offline_access", "openid"],
        "the grant itself kept its scope"
    );
}

#[tokio::test]
async fn a_refresh_token_works_only_for_its_own_client() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let r1 = sign_in(&server, &rp, &app)
        .await
        .refresh_token()
        .unwrap()
        .clone();
    let other = server
        .client_with(
            "default",
            "other",
            false,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &[],
            &[],
        )
        .await;
    let other_rp = relying_party(&server, &other).await;
    let stolen = other_rp
        .exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(stolen), "invalid_grant");
    rp.exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&http())
        .await
        .expect("still good for its own client: the attempt did not spend it");
}

#[tokio::test]
async fn client_credentials_gives_a_service_an_access_token_only() {
    let server = TestServer::start().await;
    let service = server
        .client_with(
            "default",
            "billing",
            false,
            &[GrantType::ClientCredentials],
            &["orders:read", "orders:write"],
            &[API],
        )
        .await;
    let rp = relying_party(&server, &service).await;
    let tokens = rp
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("orders:read".into()))
        .add_extra_param("resource", API)
        .request_async(&http())
        .await
        .expect("client credentials");
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.extra_fields().id_token().is_none());
    let introspected = rp
        .introspect(tokens.access_token())
        .set_token_type_hint("access_token")
        .request_async(&http())
        .await
        .expect("introspection");
    assert!(introspected.active());
    assert_eq!(
        introspected.sub(),
        Some("billing"),
        "the client acts for itself"
    );
    assert_eq!(introspected.aud(), Some(&vec![API.to_string()]));
    assert_eq!(introspected.scopes().unwrap()[0].to_string(), "orders:read");

    for (scope, error) in [
        ("orders:admin", "invalid_scope"),
        ("openid", "invalid_scope"),
    ] {
        let result = rp
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new(scope.into()))
            .request_async(&http())
            .await;
        assert_eq!(outcome(result), error, "{scope}");
    }
    let unregistered = rp
        .exchange_client_credentials()
        .unwrap()
        .add_extra_param("resource", "https://elsewhere.example/")
        .request_async(&http())
        .await;
    assert_eq!(outcome(unregistered), "invalid_target");

    let impostor = TestClient {
        secret: Some("not the secret".into()),
        ..service.clone()
    };
    let wrong_secret = relying_party(&server, &impostor)
        .await
        .exchange_client_credentials()
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(wrong_secret), "invalid_client");

    let web_app = server.client("default", "web", false).await;
    let not_allowed = relying_party(&server, &web_app)
        .await
        .exchange_client_credentials()
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(not_allowed), "unauthorized_client");
}

#[tokio::test]
async fn revoking_an_access_token_ends_it_everywhere() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let tokens = sign_in(&server, &rp, &app).await;
    let access = tokens.access_token();
    let active = rp
        .introspect(access)
        .request_async(&http())
        .await
        .expect("introspection");
    assert!(active.active());
    assert!(active.sub().is_some() && active.exp().is_some());

    assert_eq!(revoke(&server, &app, access.secret()).await, StatusCode::OK);
    let after = rp.introspect(access).request_async(&http()).await.unwrap();
    assert!(!after.active());
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::json!({ "active": false }),
        "nothing but active=false (RFC 7662 §2.2)"
    );
    assert_eq!(
        userinfo_status(&server, access.secret()).await,
        StatusCode::UNAUTHORIZED
    );
    rp.exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http())
        .await
        .expect("revoking the access token leaves the refresh token");
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let tokens = sign_in(&server, &rp, &app).await;
    let refresh = tokens.refresh_token().unwrap().clone();
    let as_opaque = AccessToken::new(refresh.secret().clone());
    let introspected = rp
        .introspect(&as_opaque)
        .request_async(&http())
        .await
        .unwrap();
    assert!(introspected.active());
    assert_eq!(
        introspected.token_type().map(|t| t.as_ref().to_string()),
        Some("refresh_token".into())
    );

    assert_eq!(
        revoke(&server, &app, refresh.secret()).await,
        StatusCode::OK
    );
    assert!(!rp
        .introspect(&as_opaque)
        .request_async(&http())
        .await
        .unwrap()
        .active());
    assert!(!rp
        .introspect(tokens.access_token())
        .request_async(&http())
        .await
        .unwrap()
        .active());
    let refreshed = rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(refreshed), "invalid_grant");
    // RFC 7009 §2.2: an unknown token is not an error.
    assert_eq!(revoke(&server, &app, "no-such-token").await, StatusCode::OK);
}

#[tokio::test]
async fn a_client_learns_nothing_of_tokens_that_are_not_its_own() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let tokens = sign_in(&server, &rp, &app).await;

    let stranger = server.client("default", "stranger", false).await;
    let stranger_rp = relying_party(&server, &stranger).await;
    let seen = stranger_rp
        .introspect(tokens.access_token())
        .request_async(&http())
        .await
        .unwrap();
    assert!(!seen.active(), "another client's token looks inactive");
    assert_eq!(
        revoke(&server, &stranger, tokens.refresh_token().unwrap().secret()).await,
        StatusCode::OK,
        "answered 200"
    );
    assert!(
        rp.introspect(&AccessToken::new(
            tokens.refresh_token().unwrap().secret().clone()
        ))
        .request_async(&http())
        .await
        .unwrap()
        .active(),
        "but not revoked"
    );

    // A public client cannot introspect at all.
    let spa = server.client("default", "spa", true).await;
    let response = server
        .http()
        .post(format!("{}/introspect", server.issuer("default")))
        .form(&[
            ("client_id", "spa"),
            ("token", tokens.access_token().secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    drop(spa);

    // Without client authentication, nothing at all.
    let anonymous = server
        .http()
        .post(format!("{}/revoke", server.issuer("default")))
        .form(&[("token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        userinfo_status(&server, tokens.access_token().secret()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_resource_server_named_by_the_audience_may_introspect() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let (code, verifier) = authorize(&server, &app, "openid offline_access").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .add_extra_param("resource", API)
        .request_async(&http())
        .await
        .expect("code exchange with a resource");
    let api = server
        .client_with(
            "default",
            "orders-api",
            false,
            &[GrantType::ClientCredentials],
            &["orders:read"],
            &[API],
        )
        .await;
    let seen = relying_party(&server, &api)
        .await
        .introspect(tokens.access_token())
        .request_async(&http())
        .await
        .unwrap();
    assert!(seen.active());
    assert_eq!(seen.aud(), Some(&vec![API.to_string()]));
    assert_eq!(seen.client_id().map(|c| c.as_str()), Some("app"));

    // The refreshed access token keeps the audience of the grant.
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http())
        .await
        .unwrap();
    let seen = rp
        .introspect(refreshed.access_token())
        .request_async(&http())
        .await
        .unwrap();
    assert_eq!(seen.aud(), Some(&vec![API.to_string()]));
}

/// The `aud` introspection tells of `token`.
async fn audience(rp: &RelyingParty, token: &AccessToken) -> Vec<String> {
    let seen = rp.introspect(token).request_async(&http()).await.unwrap();
    seen.aud().cloned().unwrap_or_default()
}

/// RFC 8707 §2: `resource` may be repeated; the access token is for each of them, and a
/// refresh may narrow them to some, never widen them.
#[tokio::test]
async fn several_resources_make_several_audiences_and_a_refresh_narrows_them() {
    const REPORTS: &str = "https://reports.example.com/";
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "app",
            false,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &["openid", "offline_access"],
            &[API, REPORTS],
        )
        .await;
    let rp = relying_party(&server, &app).await;
    let (code, verifier) = authorize(&server, &app, "openid offline_access").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .add_extra_param("resource", API)
        .add_extra_param("resource", REPORTS)
        .request_async(&http())
        .await
        .expect("code exchange with two resources");
    let both = vec![API.to_string(), REPORTS.to_string()];
    assert_eq!(audience(&rp, tokens.access_token()).await, both);

    let refresh_token = tokens.refresh_token().unwrap();
    let narrowed = rp
        .exchange_refresh_token(refresh_token)
        .unwrap()
        .add_extra_param("resource", REPORTS)
        .request_async(&http())
        .await
        .expect("a refresh for one of the two");
    assert_eq!(
        audience(&rp, narrowed.access_token()).await,
        vec![REPORTS.to_string()]
    );
    // The family keeps both: the next refresh without `resource` is for both again; one the
    // grant did not name is refused, and so is one the client never registered.
    let next = narrowed.refresh_token().unwrap();
    for (resource, error) in [
        ("https://elsewhere.example/", "invalid_target"),
        ("not a uri", "invalid_target"),
    ] {
        let refused = rp
            .exchange_refresh_token(next)
            .unwrap()
            .add_extra_param("resource", resource)
            .request_async(&http())
            .await;
        assert_eq!(outcome(refused), error, "{resource}");
    }
    let widened = rp
        .exchange_refresh_token(next)
        .unwrap()
        .request_async(&http())
        .await
        .expect("the refused attempts did not spend it");
    assert_eq!(audience(&rp, widened.access_token()).await, both);

    // A grant for one resource cannot be refreshed into a second one, though registered.
    let (code, verifier) = authorize(&server, &app, "openid offline_access").await;
    let one = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .add_extra_param("resource", API)
        .request_async(&http())
        .await
        .unwrap();
    let wider = rp
        .exchange_refresh_token(one.refresh_token().unwrap())
        .unwrap()
        .add_extra_param("resource", API)
        .add_extra_param("resource", REPORTS)
        .request_async(&http())
        .await;
    assert_eq!(outcome(wider), "invalid_target");
}

#[tokio::test]
async fn resources_named_in_the_authorization_request_bound_the_grant() {
    const REPORTS: &str = "https://reports.example.com/";
    const LEDGER: &str = "https://ledger.example.com/";
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    let app = server
        .client_with(
            "default",
            "app",
            false,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &["openid", "offline_access"],
            &[API, REPORTS, LEDGER],
        )
        .await;
    let rp = relying_party(&server, &app).await;
    let browser = server.browser();
    // RFC 8707 §2.1: `resource`, repeated, in the authorization request.
    let sign_in = |resources: &[&str]| {
        let mut request = AuthRequest::new(&app).set("scope", "openid offline_access");
        for resource in resources {
            request
                .params
                .push(("resource".into(), resource.to_string()));
        }
        request
    };
    let request = sign_in(&[API, REPORTS]);
    let callback = browser
        .authorize(
            &request.url(&server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let exchange = |code: String, verifier: String, resources: &'static [&'static str]| {
        let rp = &rp;
        async move {
            let mut request = rp
                .exchange_code(AuthorizationCode::new(code))
                .unwrap()
                .set_pkce_verifier(PkceCodeVerifier::new(verifier));
            for resource in resources {
                request = request.add_extra_param("resource", *resource);
            }
            request.request_async(&http()).await
        }
    };
    // Without `resource` at the token endpoint the tokens are for every one named.
    let tokens = exchange(code, request.verifier.clone(), &[])
        .await
        .expect("the code");
    let both = vec![API.to_string(), REPORTS.to_string()];
    assert_eq!(audience(&rp, tokens.access_token()).await, both);
    // The refresh family holds the authorization request's resources: never the third.
    let refused = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .add_extra_param("resource", LEDGER)
        .request_async(&http())
        .await;
    assert_eq!(outcome(refused), "invalid_target");

    // The token request may narrow them, never add one the authorization request left out.
    let request = sign_in(&[API, REPORTS]);
    let callback = browser.open(&request.url(&server, "default")).await;
    let code = query(&callback)["code"].clone();
    let wider = exchange(code, request.verifier.clone(), &[API, LEDGER]).await;
    assert_eq!(outcome(wider), "invalid_target");
    let request = sign_in(&[API, REPORTS]);
    let callback = browser.open(&request.url(&server, "default")).await;
    let code = query(&callback)["code"].clone();
    let narrowed = exchange(code, request.verifier.clone(), &[REPORTS])
        .await
        .expect("one of the two");
    assert_eq!(
        audience(&rp, narrowed.access_token()).await,
        vec![REPORTS.to_string()]
    );

    // A resource the client never registered is refused at the authorization endpoint, back
    // at the client's redirect URI with `invalid_target`.
    let request = sign_in(&["https://elsewhere.example/"]);
    let refused = browser.open(&request.url(&server, "default")).await;
    assert_eq!(query(&refused)["error"], "invalid_target", "{refused}");
}

#[tokio::test]
async fn a_replayed_code_also_revokes_the_refresh_tokens_it_issued() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let (code, verifier) = authorize(&server, &app, "openid offline_access").await;
    let exchange = || async {
        rp.exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()))
            .request_async(&http())
            .await
    };
    let tokens = exchange().await.expect("first exchange");
    assert_eq!(outcome(exchange().await), "invalid_grant");
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(refreshed), "invalid_grant");
}

#[tokio::test]
async fn malformed_requests_to_the_token_endpoints_get_oauth_errors() {
    let (server, app) = refreshing_app().await;
    let secret = app.secret.clone().unwrap();
    let post = |path: &'static str, form: Vec<(&'static str, String)>, json: bool| {
        let request = server
            .http()
            .post(format!("{}/{path}", server.issuer("default")))
            .basic_auth("app", Some(secret.clone()));
        let request = if json {
            request.json(
                &form
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
        } else {
            request.form(&form)
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["error"].as_str().unwrap_or("").to_string())
        }
    };
    let bad = StatusCode::BAD_REQUEST;
    for path in ["introspect", "revoke"] {
        assert_eq!(
            post(path, vec![("token", "x".into())], true).await,
            (bad, "invalid_request".into()),
            "{path}: JSON instead of a form"
        );
        assert_eq!(
            post(path, vec![], false).await,
            (bad, "invalid_request".into()),
            "{path}: no token"
        );
        assert_eq!(
            post(
                path,
                vec![("token", "a".into()), ("token", "b".into())],
                false
            )
            .await,
            (bad, "invalid_request".into()),
            "{path}: repeated parameter"
        );
    }
    let huge = "x".repeat(9000);
    let (status, _) = post("introspect", vec![("token", huge.clone())], false).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an oversized token is just inactive"
    );
    assert_eq!(
        post(
            "token",
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", huge)
            ],
            false
        )
        .await,
        (bad, "invalid_request".into())
    );
    assert_eq!(
        post("token", vec![("grant_type", "refresh_token".into())], false).await,
        (bad, "invalid_request".into()),
        "no refresh_token"
    );
    assert_eq!(
        post(
            "token",
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", "' OR 1=1 --".into())
            ],
            false
        )
        .await,
        (bad, "invalid_grant".into())
    );
}

/// The person takes back an application's access on their account page: its access token and
/// its offline refresh token stop working at once, and its next request asks for consent again.
#[tokio::test]
async fn taking_back_access_on_the_account_page_ends_the_applications_tokens() {
    let (server, app) = refreshing_app().await;
    let rp = relying_party(&server, &app).await;
    let browser = server.browser();
    let tokens = sign_in_from(&browser, &server, &rp, &app).await;
    let access = tokens.access_token().secret().clone();
    let refresh = tokens.refresh_token().unwrap().clone();
    assert_eq!(userinfo_status(&server, &access).await, StatusCode::OK);

    let page = browser.page("/t/default/account").await;
    assert!(page.contains("Applications you allowed") && page.contains("Take back access"));
    let csrf = hidden(&page, "csrf").unwrap();
    let withdraw = |csrf: String, client: &'static str| {
        let browser = &browser;
        async move {
            let form = [("tenant", "default"), ("csrf", &csrf), ("client", client)];
            location(&browser.post("/api/account_withdraw_consent", &form).await).unwrap()
        }
    };
    assert!(withdraw("forged".into(), "app")
        .await
        .contains("error=csrf"));
    assert_eq!(
        userinfo_status(&server, &access).await,
        StatusCode::OK,
        "a forged request changes nothing"
    );
    for unknown in ["other-app", "app'--", ""] {
        let to = withdraw(csrf.clone(), unknown).await;
        assert!(to.contains("error=not_found"), "{unknown:?}: {to}");
    }
    let to = withdraw(csrf.clone(), "app").await;
    assert!(to.contains("done=consent_withdrawn"), "{to}");

    assert_eq!(
        userinfo_status(&server, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http())
        .await;
    assert_eq!(outcome(refreshed), "invalid_grant");
    assert!(withdraw(csrf.clone(), "app")
        .await
        .contains("error=not_found"));
    let page = browser.page("/t/default/account").await;
    assert!(
        !page.contains("Take back access"),
        "nothing left to take back"
    );
    // Still signed in, the next request for the application asks again.
    let again = AuthRequest::new(&app).set("scope", "openid email offline_access");
    let landed = browser.open(&again.url(&server, "default")).await;
    assert!(landed.contains("/consent?"), "asked again: {landed}");
    let actions = server.audit_actions("default").await;
    assert!(actions.iter().any(|(a, ..)| a == "consent.revoked"));
}
