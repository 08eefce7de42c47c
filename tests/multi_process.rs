//! Several `tessera serve` processes on one PostgreSQL database, as behind a load balancer: a
//! person signs in through both, and what one process issues the other honours.
#![cfg(feature = "ssr")]

mod common;

use common::process::{free_port, spawn, wait_until_ready};
use common::{backends, query, AuthRequest, Browser, TestClient, PASSWORD};
use reqwest::{cookie::Jar, redirect::Policy, StatusCode};
use std::{collections::HashMap, sync::Arc};
use tessera::admin::{clients::NewClient, users::NewUser, Actor};

fn browser(base: &str, jar: &Arc<Jar>) -> Browser {
    Browser {
        http: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap(),
        base: base.into(),
    }
}

#[tokio::test]
async fn two_processes_share_sign_ins_keys_and_tokens() {
    let storage = backends::provision("postgresql").await;
    let mut vars: HashMap<&str, String> = storage.vars.iter().cloned().collect();
    vars.insert(
        "TESSERA_ENCRYPTION_KEY",
        tessera::crypto::EncryptionKey::generate().1,
    );

    // Both start at once on an empty database: one migrates, one creates the tenant `default`,
    // one creates its signing key, and neither fails.
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let mut one = spawn(&vars, &public_url);
    let mut two = spawn(&vars, &public_url);
    wait_until_ready(&mut one).await;
    wait_until_ready(&mut two).await;

    vars.insert("TESSERA_PUBLIC_URL", public_url.clone());
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let tool = tessera::cli::build_state(config, false, false)
        .await
        .unwrap();
    let tenant = tessera::admin::tenants::find(&tool, "default")
        .await
        .unwrap();
    let alice = NewUser {
        email: "alice@example.com",
        name: Some("Alice Example"),
        password: Some(PASSWORD.into()),
        admin: false,
    };
    tessera::admin::users::create(&tool, &Actor::Cli, &tenant, alice)
        .await
        .unwrap();
    let redirect_uri = "http://127.0.0.1:8123/callback".to_string();
    let (_, secret) = tessera::admin::clients::create(
        &tool,
        &Actor::Cli,
        &tenant,
        NewClient {
            client_id: "app".into(),
            name: "Test App".into(),
            redirect_uris: vec![redirect_uri.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let app = TestClient {
        client_id: "app".into(),
        secret,
        redirect_uri,
    };

    // One browser (one cookie jar) whose requests a load balancer spreads over both.
    let jar = Arc::new(Jar::default());
    let (via_one, via_two) = (browser(&one.base, &jar), browser(&two.base, &jar));
    let request = AuthRequest::new(&app);
    let query_string = serde_urlencoded::to_string(&request.params).unwrap();
    let login = via_one
        .open(&format!("{}/t/default/authorize?{query_string}", one.base))
        .await;
    assert!(login.contains("/login?"), "sign-in page expected: {login}");
    let login_on_two = login.replace(&one.base, &two.base);
    let after_password = via_two
        .sign_in(&login_on_two, "alice@example.com", PASSWORD)
        .await;
    let consent = via_two
        .follow(after_password)
        .await
        .expect_err("the consent page")
        .url()
        .to_string();
    assert!(consent.contains("/consent?"), "consent expected: {consent}");
    let callback = via_one
        .follow(
            via_one
                .consent(&consent.replace(&two.base, &one.base), "allow")
                .await,
        )
        .await
        .expect("a redirect back to the client");
    let code = query(&callback)["code"].clone();

    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/t/default/token", two.base))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", request.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().expect("an access token");
    assert!(tokens["id_token"].is_string());

    let userinfo = reqwest::Client::new()
        .get(format!("{}/t/default/userinfo", one.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::OK,
        "a token issued by one process is accepted by the other"
    );
    let claims: serde_json::Value = userinfo.json().await.unwrap();
    assert_eq!(claims["email"], "alice@example.com");

    let jwks = |base: String| async move {
        reqwest::get(format!("{base}/t/default/jwks"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        jwks(one.base.clone()).await,
        jwks(two.base.clone()).await,
        "both publish the same keys"
    );
}
