//! Signing keys: ID tokens in the client's algorithm, rotation that publishes a key before it
//! signs and keeps the old one while its tokens live, and scheduled rotation. The relying party
//! is the `openidconnect` crate, verifying through the JWKS as any client would.
#![cfg(feature = "ssr")]

mod common;

use common::{query, AuthRequest, TestClient, TestServer, PASSWORD};
use openidconnect::{
    core::{CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreTokenResponse},
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::admin::{clients::NewClient, Actor};
use tessera::domain::{KeyState, SigningAlg, Timestamp};

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn client_signing_with(server: &TestServer, client_id: &str, alg: SigningAlg) -> TestClient {
    let new = NewClient {
        client_id: client_id.into(),
        id_token_alg: alg,
        ..Default::default()
    };
    server.register("default", new).await
}

type RelyingParty = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A relying party that discovers the provider and fetches its JWKS now.
async fn relying_party(server: &TestServer, app: &TestClient) -> RelyingParty {
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.issuer("default")).unwrap(),
        &http(),
    )
    .await
    .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.client_id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap())
}

/// Signs alice in through `app`; returns the token response (the nonce is the test's own).
async fn sign_in(server: &TestServer, app: &TestClient) -> CoreTokenResponse {
    let request = AuthRequest::new(app);
    let callback = server
        .browser()
        .authorize(
            &request.url(server, "default"),
            "alice@example.com",
            PASSWORD,
            "allow",
        )
        .await;
    let rp = relying_party(server, app).await;
    rp.exchange_code(AuthorizationCode::new(query(&callback)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(request.verifier))
        .request_async(&http())
        .await
        .expect("code exchange")
}

fn nonce() -> Nonce {
    Nonce::new("nonce-456".into())
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/jwks", server.issuer("default")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn id_tokens_are_signed_with_the_algorithm_the_client_registered() {
    let server = TestServer::start().await;
    server.user("default", "alice@example.com").await;
    for (client_id, alg, expected) in [
        (
            "es",
            SigningAlg::ES256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ),
        ("ed", SigningAlg::EdDSA, CoreJwsSigningAlgorithm::EdDsa),
        (
            "rs",
            SigningAlg::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
    ] {
        let app = client_signing_with(&server, client_id, alg).await;
        let tokens = sign_in(&server, &app).await;
        let id_token = tokens.id_token().expect("an ID token");
        let rp = relying_party(&server, &app).await;
        let verifier = rp
            .id_token_verifier()
            .set_allowed_algs(vec![expected.clone()]);
        let claims = id_token
            .claims(&verifier, &nonce())
            .unwrap_or_else(|e| panic!("{alg:?} ID token: {e}"));
        assert_eq!(id_token.signing_alg().unwrap(), &expected);
        // at_hash in the algorithm's hash (the crate checks it the same way).
        let expected_hash = openidconnect::AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected_hash), "{alg:?}");
    }
}

#[tokio::test]
async fn a_rotated_in_key_is_published_before_it_signs() {
    let (server, app) = TestServer::with_alice().await;
    let tenant = server.tenant("default").await;
    let before = sign_in(&server, &app).await;
    let old_kid = kid(&before.id_token().unwrap().to_string());

    let next =
        tessera::admin::keys::rotate(&server.state, &Actor::Cli, &tenant, SigningAlg::ES256, 600)
            .await
            .unwrap();
    let published = jwks_kids(&server).await;
    assert!(published.contains(&next.kid) && published.contains(&old_kid));
    let during = sign_in(&server, &app).await;
    assert_eq!(
        kid(&during.id_token().unwrap().to_string()),
        old_kid,
        "the old key signs until the new one's time comes"
    );
    let again =
        tessera::admin::keys::rotate(&server.state, &Actor::Cli, &tenant, SigningAlg::ES256, 0)
            .await;
    assert!(
        matches!(again, Err(tessera::error::AppError::Conflict(_))),
        "one rotation at a time"
    );
}

#[tokio::test]
async fn after_rotation_tokens_signed_by_the_old_key_still_verify() {
    let (server, app) = TestServer::with_alice().await;
    let tenant = server.tenant("default").await;
    let before = sign_in(&server, &app).await;
    let old_id_token = before.id_token().unwrap().clone();
    let old_kid = kid(&old_id_token.to_string());

    let next =
        tessera::admin::keys::rotate(&server.state, &Actor::Cli, &tenant, SigningAlg::ES256, 0)
            .await
            .unwrap();
    let after = sign_in(&server, &app).await;
    assert_eq!(kid(&after.id_token().unwrap().to_string()), next.kid);
    assert_eq!(kid(after.access_token().secret()), next.kid);

    // A relying party that fetched the JWKS after the rotation verifies both.
    let rp = relying_party(&server, &app).await;
    old_id_token
        .claims(&rp.id_token_verifier(), &nonce())
        .expect("the old key is still published");
    after
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &nonce())
        .expect("the new key is published");
    let userinfo = server
        .http()
        .get(format!("{}/userinfo", server.issuer("default")))
        .bearer_auth(before.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::OK,
        "old access tokens live on"
    );

    let states: Vec<(String, KeyState)> = tessera::admin::keys::list(&server.state, &tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.state))
        .collect();
    assert!(states.contains(&(old_kid.clone(), KeyState::Retired)));
    assert!(states.contains(&(next.kid.clone(), KeyState::Active)));

    // Once everything the old key signed has expired, housekeeping removes it.
    let later = Timestamp::now().plus_secs(tessera::state::keys::RETIRED_KEY_SECS + 1);
    let purged = tessera::jobs::purge::run_once(&server.state.store, later)
        .await
        .unwrap();
    assert_eq!(purged.retired_keys, 1);
    assert!(!tessera::admin::keys::list(&server.state, &tenant)
        .await
        .unwrap()
        .iter()
        .any(|k| k.kid == old_kid));
}

#[tokio::test]
async fn scheduled_rotation_starts_once_per_key_when_it_is_due() {
    let (server, _app) = TestServer::with_alice().await;
    let now = Timestamp::now();
    let ninety_days = 90 * 24 * 3600;
    let rotate = tessera::jobs::rotate_keys::run_once;
    assert_eq!(
        rotate(&server.state, now, ninety_days).await.unwrap(),
        0,
        "young keys stay"
    );
    let due = now.plus_secs(ninety_days + 1);
    // One active key here; a database that began as the upgrade fixture has more tenants.
    let started = rotate(&server.state, due, ninety_days).await.unwrap();
    assert!(started >= 1, "{started}");
    assert_eq!(
        rotate(&server.state, due, ninety_days).await.unwrap(),
        0,
        "a rotation under way is not started again"
    );
    let tenant = server.tenant("default").await;
    let keys = tessera::admin::keys::list(&server.state, &tenant)
        .await
        .unwrap();
    assert_eq!(keys.iter().filter(|k| k.state == KeyState::Next).count(), 1);
}
