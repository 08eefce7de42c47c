//! OIDC artifacts in Redis carry their lifetimes as key expiries, so Redis drops them without a
//! purge job. (Whether Redis then deletes them on time is Redis's business, not tested here.)
#![cfg(feature = "ssr")]

mod common;

use common::backends::{self, Provisioned};
use std::collections::HashMap;
use tessera::domain::{
    AccessTokenRecord, AuthorizationCode, Email, FlowStep, LoginFlow, Tenant, TenantSlug,
    Timestamp, User,
};
use tessera::store::{Access, Redemption, ARTIFACT_RETENTION_SECS};

async fn ttl(redis: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query_async(redis).await.unwrap()
}

#[tokio::test]
async fn every_artifact_key_expires_with_its_artifact() {
    let Provisioned {
        vars,
        guard: _guard,
    } = backends::provision("redis").await;
    let vars: HashMap<&str, String> = vars.into_iter().collect();
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let store = tessera::store::open(&config, &backends::test_key(), Access::Tool, true)
        .await
        .unwrap();
    let mut redis = redis::Client::open(vars["REDIS_URL"].as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    let tenant = Tenant::new(TenantSlug::parse("ttl").unwrap(), "TTL").unwrap();
    store.tenants.create(&tenant).await.unwrap();
    let user = User::new(tenant.id, Email::parse("a@example.com").unwrap(), None).unwrap();
    store.users.create(tenant.id, &user, &[]).await.unwrap();
    let now = Timestamp::now();
    let prefix = format!("tessera:{}", tenant.id);

    let flow = LoginFlow {
        id: "flow-1".into(),
        tenant_id: tenant.id,
        binding_hash: "b".repeat(64),
        request: None,
        step: FlowStep::Identify,
        denied: false,
        return_to: None,
        upstream: None,
        created_at: now,
        expires_at: now.plus_secs(600),
    };
    store.artifacts.put_flow(tenant.id, &flow).await.unwrap();
    let left = ttl(&mut redis, &format!("{prefix}:flow:flow-1")).await;
    assert!(
        (590..=600).contains(&left),
        "a flow lives as long as it is valid: {left}"
    );

    let code = AuthorizationCode {
        code_hash: "hash-1".into(),
        tenant_id: tenant.id,
        client_id: "app".into(),
        user_id: user.id,
        session_id: "s".into(),
        redirect_uri: "https://app.example/cb".into(),
        scopes: vec!["openid".into()],
        nonce: None,
        code_challenge: None,
        auth_time: now,
        amr: vec!["pwd".into()],
        issued_at: now,
        expires_at: now.plus_secs(60),
        dpop_jkt: None,
        resources: Vec::new(),
    };
    store.artifacts.put_code(tenant.id, &code).await.unwrap();
    let kept = 60 + ARTIFACT_RETENTION_SECS;
    let left = ttl(&mut redis, &format!("{prefix}:code:hash-1")).await;
    assert!(
        (kept - 10..=kept).contains(&left),
        "a code is kept for replay detection a retention period past expiry: {left}"
    );
    assert!(matches!(
        store
            .artifacts
            .redeem_code(tenant.id, "hash-1", now)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    let marker = ttl(&mut redis, &format!("{prefix}:code-redeemed:hash-1")).await;
    assert!(
        (kept - 10..=kept).contains(&marker),
        "the redemption marker too: {marker}"
    );

    let token = AccessTokenRecord {
        jti: "jti-1".into(),
        tenant_id: tenant.id,
        client_id: "app".into(),
        user_id: Some(user.id),
        scopes: vec!["openid".into()],
        code_hash: Some("hash-1".into()),
        family_id: None,
        issued_at: now,
        expires_at: now.plus_secs(300),
        revoked_at: None,
    };
    store
        .artifacts
        .record_access_token(tenant.id, &token)
        .await
        .unwrap();
    let kept = 300 + ARTIFACT_RETENTION_SECS;
    for key in ["access-token:jti-1", "code-tokens:hash-1"] {
        let left = ttl(&mut redis, &format!("{prefix}:{key}")).await;
        assert!((kept - 10..=kept).contains(&left), "{key}: {left}");
    }
}
