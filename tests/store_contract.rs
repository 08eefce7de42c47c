//! The storage contract: the same test functions run against every backend. A backend passes
//! when it reports the same results and the same errors for the same calls.
#![cfg(feature = "ssr")]

mod common;

use common::backends::{self, Provisioned};
use common::refresh;
use std::collections::HashMap;
use tessera::domain::{
    AccessTokenRecord, ApiKey, AuditEvent, AuthorizationCode, BrowserSessionRecord, ClaimMapping,
    Client, ClientKey, ClientType, Connection, Consent, DeliveryAttempt, Email, ExchangePolicy,
    Factor, FactorKind, FlowStep, GrantType, InitialAccessToken, Job, JobBacklog, KeyState,
    LinkedIdentity, LoginFlow, Outcome, Placement, Preset, Protocol, RedirectUri, RefreshToken,
    Role, SigningAlg, SigningKey, Team, Tenant, TenantId, TenantSlug, Timestamp, TokenAuthMethod,
    User, UserId, UserSession, WebhookEndpoint,
};
use tessera::store::audited::{self, Outbound};
use tessera::store::group_commit::GroupCommit;
use tessera::store::{
    Access, AuditQuery, Issuance, Redemption, Rotation, Store, StoreError, UserQuery,
};

/// A store on fresh, migrated storage, and whatever must live as long as it.
pub struct Backend {
    pub store: Store,
    _guard: Box<dyn std::any::Any + Send>,
}

async fn open(backend: &str) -> Backend {
    let Provisioned { vars, guard } = backends::provision(backend).await;
    let vars: HashMap<&str, String> = vars.into_iter().collect();
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    let store = tessera::store::open(&config, &backends::test_key(), Access::Tool, true)
        .await
        .expect("storage opens");
    Backend {
        store,
        _guard: guard,
    }
}

macro_rules! contract_suite {
    ($backend:ident; $($test:ident),* $(,)?) => {
        contract_suite!($backend in $backend; $($test),*);
    };
    ($module:ident in $backend:ident; $($test:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let backend = super::open(stringify!($backend)).await;
                    super::$test(&backend.store).await;
                }
            )*
        }
    };
}

/// The whole contract, for backends that hold everything.
macro_rules! main_store_suite {
    ($backend:ident) => {
        contract_suite!($backend;
            tenants_are_found_by_slug_and_id_and_slugs_are_unique,
            tenants_are_listed_a_page_at_a_time,
            users_are_unique_per_tenant_and_track_logins,
            users_of_one_tenant_are_invisible_to_another,
            users_are_listed_a_page_at_a_time_within_their_tenant,
            clients_are_unique_per_tenant_and_isolated,
            sessions_touch_revoke_and_stay_in_their_tenant,
            consents_are_replaced_and_isolated,
            signing_keys_are_listed_newest_first_and_isolated,
            keys_rotate_with_one_active_and_one_next_key_per_algorithm,
            audit_events_come_newest_first_with_a_limit_and_isolated,
            browser_sessions_create_save_load_expire_and_delete,
            purge_removes_only_expired_rows_a_bounded_batch_at_a_time,
            login_flows_expire_and_are_isolated,
            codes_are_redeemed_once_and_only_in_their_tenant,
            concurrent_redemptions_have_exactly_one_winner,
            access_tokens_are_revoked_by_their_code_within_the_tenant,
            access_tokens_are_revoked_one_at_a_time_within_the_tenant,
            concurrent_token_reads_each_get_their_own_record_within_their_tenant,
            refresh_tokens_rotate_once_and_stay_in_their_tenant,
            refresh_tokens_are_listed_a_page_at_a_time_with_their_state_within_their_tenant,
            concurrent_rotations_have_exactly_one_winner,
            concurrent_rotations_of_many_tokens_each_get_their_own_outcome_within_their_tenant,
            rotations_in_a_batch_store_only_the_replacements_of_the_tokens_they_spent,
            revoking_a_family_revokes_its_refresh_and_access_tokens,
            ending_a_sign_in_revokes_its_bound_tokens_only,
            withdrawing_a_grant_revokes_that_persons_tokens_for_that_client_only,
            ephemeral_records_are_taken_once_and_swapped_by_version,
            concurrent_takes_have_exactly_one_winner,
            clients_are_updated_and_listed_within_their_tenant,
            tenants_are_updated,
            users_are_updated_within_their_tenant,
            sessions_of_a_user_are_listed_and_revoked_together,
            audit_events_are_filtered_by_actor,
            factors_are_added_swapped_by_version_and_removed,
            concurrent_factor_swaps_have_exactly_one_winner,
            roles_are_created_updated_and_deleted_with_their_grants,
            roles_are_assigned_once_and_only_to_existing_users,
            teams_hold_members_and_roles,
            users_are_searched_by_each_filter,
            user_search_pages_never_skip_or_repeat_when_users_arrive,
            users_are_deleted_for_good_with_what_depends_on_them,
            roles_teams_and_users_of_one_tenant_are_invisible_to_another,
            audit_events_are_searched_by_each_filter_a_page_at_a_time,
            audit_purge_removes_only_old_events_a_bounded_batch_at_a_time,
            deleting_a_tenant_removes_its_rows_and_leaves_others,
            clients_keep_their_creator_logo_and_key_address_and_are_deleted_within_their_tenant,
            consents_are_listed_per_user_and_revoked_within_their_tenant,
            expired_records_give_way_and_leases_end_only_by_their_holder,
            counters_count_every_concurrent_event_within_their_window_and_tenant,
            jobs_are_leased_retried_and_finished_within_their_tenant,
            concurrent_claims_never_lease_a_job_twice,
            a_scheduled_turn_goes_to_one_caller_until_it_is_due_again,
            overview_figures_count_sign_ins_people_and_clients_within_their_tenant,
            keys_due_for_rotation_are_found_across_tenants_in_one_query,
            api_keys_are_found_by_hash_used_and_revoked_within_their_tenant,
            initial_tokens_are_spent_once_per_use_and_revoked_within_their_tenant,
            connections_are_created_listed_updated_and_deleted_within_their_tenant,
            identities_are_linked_once_and_go_with_their_connection_person_and_tenant,
            concurrent_links_of_one_identity_have_exactly_one_winner,
            webhook_endpoints_and_their_delivery_log_stay_within_their_tenant,
            audit_events_queue_the_webhook_messages_of_their_subscribers,
        );
    };
}

main_store_suite!(sqlite);
main_store_suite!(postgresql);
main_store_suite!(mongodb);
// SQLite and PostgreSQL keep token records and audit events in one database, so a group
// commit's batch is one transaction. (MongoDB without a replica set, and token records in
// Redis, write the records first, then the events.)
contract_suite!(sqlite_batches in sqlite; a_batch_is_stored_whole_or_not_at_all);
contract_suite!(postgresql_batches in postgresql; a_batch_is_stored_whole_or_not_at_all);
// A change and its audit events: one transaction where the backend has one for the call.
contract_suite!(sqlite_changes in sqlite; changes_commit_together_with_their_audit_events);
contract_suite!(postgresql_changes in postgresql; changes_commit_together_with_their_audit_events);
contract_suite!(mongodb_changes in mongodb; changes_hand_their_audit_events_back_to_follow_them);
// SQLite holds the rest; the OIDC-artifact contract runs against Redis.
contract_suite!(redis;
    login_flows_expire_and_are_isolated,
    codes_are_redeemed_once_and_only_in_their_tenant,
    concurrent_redemptions_have_exactly_one_winner,
    access_tokens_are_revoked_by_their_code_within_the_tenant,
    access_tokens_are_revoked_one_at_a_time_within_the_tenant,
    concurrent_token_reads_each_get_their_own_record_within_their_tenant,
    refresh_tokens_rotate_once_and_stay_in_their_tenant,
    refresh_tokens_are_listed_a_page_at_a_time_with_their_state_within_their_tenant,
    concurrent_rotations_have_exactly_one_winner,
    concurrent_rotations_of_many_tokens_each_get_their_own_outcome_within_their_tenant,
    rotations_in_a_batch_store_only_the_replacements_of_the_tokens_they_spent,
    revoking_a_family_revokes_its_refresh_and_access_tokens,
    ending_a_sign_in_revokes_its_bound_tokens_only,
    withdrawing_a_grant_revokes_that_persons_tokens_for_that_client_only,
    ephemeral_records_are_taken_once_and_swapped_by_version,
    concurrent_takes_have_exactly_one_winner,
    expired_records_give_way_and_leases_end_only_by_their_holder,
    counters_count_every_concurrent_event_within_their_window_and_tenant,
);

async fn expired_records_give_way_and_leases_end_only_by_their_holder(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let artifacts = &store.artifacts;
    let past = Timestamp::now().plus_secs(-5);
    let later = Timestamp::now().plus_secs(60);
    artifacts
        .put_ephemeral(a.id, "lease", "owners", "dead-process", past)
        .await
        .unwrap();
    artifacts
        .put_ephemeral(a.id, "lease", "owners", "holder-1", later)
        .await
        .expect("an expired record gives way");
    let found = artifacts
        .get_ephemeral(a.id, "lease", "owners")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.value.as_str(), found.version), ("holder-1", 1));
    assert!(matches!(
        artifacts
            .put_ephemeral(a.id, "lease", "owners", "holder-2", later)
            .await,
        Err(StoreError::Conflict(_))
    ));
    artifacts
        .put_ephemeral(b.id, "lease", "owners", "holder-2", later)
        .await
        .expect("another tenant's lease is another record");

    assert!(!artifacts
        .remove_ephemeral_if(a.id, "lease", "owners", "holder-2")
        .await
        .unwrap());
    assert!(
        artifacts
            .get_ephemeral(a.id, "lease", "owners")
            .await
            .unwrap()
            .is_some(),
        "only its holder ends a lease"
    );
    assert!(artifacts
        .remove_ephemeral_if(a.id, "lease", "owners", "holder-1")
        .await
        .unwrap());
    assert_eq!(
        artifacts
            .get_ephemeral(a.id, "lease", "owners")
            .await
            .unwrap(),
        None
    );
    assert!(
        artifacts
            .get_ephemeral(b.id, "lease", "owners")
            .await
            .unwrap()
            .is_some(),
        "the other tenant's lease stays"
    );
    artifacts
        .put_ephemeral(a.id, "lease", "owners", "holder-3", later)
        .await
        .expect("free again");
}

async fn counters_count_every_concurrent_event_within_their_window_and_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let window = Timestamp::now().plus_secs(900);
    let counts = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .artifacts
                .count_ephemeral(a.id, "throttle", "acct:a@example.com", window)
                .await
                .unwrap()
        })
    });
    let mut seen = Vec::new();
    for count in counts {
        seen.push(count.await.unwrap());
    }
    seen.sort();
    assert_eq!(
        seen,
        (1..=10).collect::<Vec<i64>>(),
        "each caller counted once"
    );
    let counter = store
        .artifacts
        .get_ephemeral(a.id, "throttle", "acct:a@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((counter.version, counter.expires_at), (10, window));
    assert_eq!(
        store
            .artifacts
            .count_ephemeral(b.id, "throttle", "acct:a@example.com", window)
            .await
            .unwrap(),
        1,
        "tenants count apart"
    );

    let past = Timestamp::now().plus_secs(-5);
    let counted = |expires_at| {
        let store = store.clone();
        async move {
            store
                .artifacts
                .count_ephemeral(a.id, "throttle", "ip:192.0.2.1", expires_at)
                .await
                .unwrap()
        }
    };
    assert_eq!(counted(past).await, 1);
    assert_eq!(counted(window).await, 1, "an expired window starts again");
    assert_eq!(counted(window).await, 2);
    assert!(store
        .artifacts
        .take_ephemeral(a.id, "throttle", "ip:192.0.2.1")
        .await
        .unwrap()
        .is_some());
    assert_eq!(counted(window).await, 1, "a taken counter starts again");
}

fn job(tenant: &Tenant, payload: &str, run_at: Timestamp) -> Job {
    let mut job = Job::new(tenant.id, "test.job", payload.into());
    job.run_at = run_at;
    job
}

async fn jobs_are_leased_retried_and_finished_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let jobs = &store.jobs;
    let now = Timestamp::now();
    let (first, second) = (job(&a, "first", now.plus_secs(-2)), job(&b, "second", now));
    let later = job(&a, "later", now.plus_secs(600));
    for j in [&later, &second, &first] {
        jobs.enqueue(j.tenant_id, j).await.unwrap();
    }
    assert_eq!(
        jobs.pending(a.id).await.unwrap(),
        [first.clone(), later.clone()]
    );
    let backlog = |waiting, due| JobBacklog { waiting, due };
    assert_eq!(jobs.backlog(now).await.unwrap(), backlog(3, 2));

    let lease_end = now.plus_secs(60);
    let claimed = jobs.claim("one", now, lease_end, 10).await.unwrap();
    assert_eq!(
        jobs.backlog(now).await.unwrap(),
        backlog(3, 0),
        "leased jobs wait, but are not due"
    );
    let payloads: Vec<&str> = claimed.iter().map(|j| j.payload.as_str()).collect();
    assert_eq!(
        payloads,
        ["first", "second"],
        "due jobs of every tenant, earliest first"
    );
    assert!(claimed.iter().all(|j| j.attempts == 1));
    assert!(
        jobs.claim("two", now, lease_end, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased jobs are not handed out again"
    );

    let (first, second) = (&claimed[0], &claimed[1]);
    assert!(!jobs.finish(first, "two").await.unwrap(), "only the holder");
    assert!(jobs.finish(first, "one").await.unwrap());
    assert!(!jobs.finish(first, "one").await.unwrap(), "once");
    assert!(jobs
        .retry(second, "one", now.plus_secs(30), "answered 503")
        .await
        .unwrap());
    assert!(jobs
        .claim("two", now, lease_end, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = jobs
        .claim("two", now.plus_secs(30), now.plus_secs(90), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].attempts, retried[0].last_error.as_deref()),
        (2, Some("answered 503"))
    );
    assert!(
        !jobs.retry(second, "one", now, "late").await.unwrap(),
        "a lease that passed to another is lost"
    );

    // The holder died: when its lease ends, the job is due again.
    let taken_over = jobs
        .claim("three", now.plus_secs(91), now.plus_secs(150), 10)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 1);
    assert_eq!(
        (taken_over[0].payload.as_str(), taken_over[0].attempts),
        ("second", 3)
    );
    assert!(!jobs.finish(&retried[0], "two").await.unwrap());
    assert!(jobs.finish(&taken_over[0], "three").await.unwrap());
    assert!(jobs.pending(b.id).await.unwrap().is_empty());

    assert_eq!(jobs.pending(a.id).await.unwrap(), [later]);
    assert!(store.tenants.delete(a.id).await.unwrap());
    assert!(
        jobs.claim("one", now.plus_secs(3600), now.plus_secs(3660), 10)
            .await
            .unwrap()
            .is_empty(),
        "a deleted tenant's jobs go with it"
    );
}

async fn concurrent_claims_never_lease_a_job_twice(store: &Store) {
    let a = tenant(store, "alpha").await;
    let now = Timestamp::now();
    for i in 0..20 {
        let j = job(&a, &i.to_string(), now);
        store.jobs.enqueue(a.id, &j).await.unwrap();
    }
    let claims = (0..6).map(|process| {
        let store = store.clone();
        tokio::spawn(async move {
            let holder = format!("process-{process}");
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .jobs
                    .claim(&holder, now, now.plus_secs(60), 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.payload));
            }
        })
    });
    let mut all = Vec::new();
    for claim in claims {
        all.extend(claim.await.unwrap());
    }
    all.sort_by_key(|p| p.parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(all, expected, "every job leased exactly once");
}

async fn a_scheduled_turn_goes_to_one_caller_until_it_is_due_again(store: &Store) {
    let now = Timestamp::now();
    let next = now.plus_secs(300);
    let turns = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.jobs.take_turn("purge", now, next).await.unwrap() })
    });
    let mut taken = 0;
    for turn in turns {
        taken += usize::from(turn.await.unwrap());
    }
    assert_eq!(taken, 1, "one of the callers runs the job");
    assert!(!store
        .jobs
        .take_turn("purge", now.plus_secs(299), next)
        .await
        .unwrap());
    assert!(
        store
            .jobs
            .take_turn("rotate-keys", now, next)
            .await
            .unwrap(),
        "each job has its own turn"
    );
    assert!(store
        .jobs
        .take_turn("purge", next, next.plus_secs(300))
        .await
        .unwrap());
}

/// A new tenant, as the store keeps it (in dedicated mode, with its database's sealed settings).
async fn tenant(store: &Store, slug: &str) -> Tenant {
    let mut tenant =
        Tenant::new(TenantSlug::parse(slug).unwrap(), &format!("Tenant {slug}")).unwrap();
    tenant.placement = backends::test_placement();
    store.tenants.create(&tenant).await.unwrap();
    store.tenants.by_id(tenant.id).await.unwrap().unwrap()
}

async fn user(store: &Store, tenant: &Tenant, email: &str) -> User {
    let user = User::new(tenant.id, Email::parse(email).unwrap(), Some("Name")).unwrap();
    store.users.create(tenant.id, &user, &[]).await.unwrap();
    user
}

fn client(tenant: &Tenant, client_id: &str) -> Client {
    Client {
        key: ClientKey::generate(),
        tenant_id: tenant.id,
        client_id: client_id.into(),
        name: "App".into(),
        client_type: ClientType::Confidential,
        secret_hash: Some("ab".repeat(32)),
        redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::TokenExchange,
        ],
        scopes: vec!["openid".into(), "email".into()],
        require_pkce: true,
        require_consent: false,
        auth_method: TokenAuthMethod::ClientSecretPost,
        access_token_ttl_secs: 300,
        id_token_ttl_secs: 600,
        refresh_token_ttl_secs: 86400,
        refresh_family_ttl_secs: 30 * 86400,
        resources: vec!["https://api.example/".into()],
        id_token_alg: SigningAlg::EdDSA,
        require_par: true,
        require_dpop: true,
        require_dpop_nonce: true,
        require_signed_request_object: true,
        exchange: ExchangePolicy {
            audiences: vec![
                "https://orders.example/".into(),
                "urn:example:ledger".into(),
            ],
            scopes: vec!["orders:read".into()],
        },
        post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example/bye").unwrap()],
        backchannel_logout_uri: Some("https://app.example/backchannel".into()),
        jwks: Some(r#"{"keys":[]}"#.into()),
        jwks_uri: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        logo_uri: None,
        created_by: None,
        registration_token_hash: Some("cd".repeat(32)),
        disabled: false,
        created_at: Timestamp::now(),
    }
}

fn session(tenant: &Tenant, user: &User, id: &str) -> UserSession {
    let now = Timestamp::now();
    UserSession {
        id: id.into(),
        tenant_id: tenant.id,
        user_id: user.id,
        auth_time: now,
        amr: vec!["pwd".into()],
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_secs(3600),
        revoked_at: None,
    }
}

fn code(tenant: &Tenant, user: &User, hash: &str, expires_at: Timestamp) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        tenant_id: tenant.id,
        client_id: "app".into(),
        user_id: user.id,
        session_id: "s1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scopes: vec!["openid".into()],
        nonce: Some("n".into()),
        code_challenge: Some("c".repeat(43)),
        auth_time: Timestamp::now(),
        amr: vec!["pwd".into()],
        issued_at: Timestamp::now(),
        expires_at,
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        resources: vec!["https://api.example/".into()],
    }
}

fn token(tenant: &Tenant, user: &User, jti: &str, code_hash: Option<&str>) -> AccessTokenRecord {
    let now = Timestamp::now();
    AccessTokenRecord {
        jti: jti.into(),
        tenant_id: tenant.id,
        client_id: "app".into(),
        user_id: Some(user.id),
        scopes: vec!["openid".into()],
        code_hash: code_hash.map(str::to_owned),
        family_id: None,
        issued_at: now,
        expires_at: now.plus_secs(300),
        revoked_at: None,
    }
}

fn flow(tenant: &Tenant, id: &str, expires_at: Timestamp) -> LoginFlow {
    LoginFlow {
        id: id.into(),
        tenant_id: tenant.id,
        binding_hash: "b".repeat(64),
        request: None,
        step: FlowStep::Password {
            email: "a@example.com".into(),
        },
        denied: false,
        return_to: None,
        upstream: None,
        created_at: Timestamp::now(),
        expires_at,
    }
}

async fn tenants_are_found_by_slug_and_id_and_slugs_are_unique(store: &Store) {
    let acme = tenant(store, "acme").await;
    assert_eq!(
        store.tenants.by_slug(&acme.slug).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store.tenants.by_id(acme.id).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store
            .tenants
            .by_slug(&TenantSlug::parse("other").unwrap())
            .await
            .unwrap(),
        None
    );
    let mut twin = Tenant::new(acme.slug.clone(), "Twin").unwrap();
    twin.placement = backends::test_placement();
    assert!(matches!(
        store.tenants.create(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.tenants.by_id(twin.id).await.unwrap(),
        None,
        "the failed create left nothing"
    );
}

async fn tenants_are_listed_a_page_at_a_time(store: &Store) {
    let mut created = Vec::new();
    for slug in ["t-one", "t-two", "t-three"] {
        created.push(tenant(store, slug).await.id);
    }
    let first = store.tenants.list(None, None, 2).await.unwrap();
    let second = store
        .tenants
        .list(None, Some(first[1].id), 2)
        .await
        .unwrap();
    let ids: Vec<_> = first.iter().chain(&second).map(|t| t.id).collect();
    assert_eq!(ids, created);

    // Searched by slug or name, ignoring case, a page at a time; wildcards are literal.
    let found = |text: &'static str, after: Option<TenantId>| async move {
        let page = store.tenants.list(Some(text), after, 10).await.unwrap();
        page.iter().map(|t| t.slug.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(found("T-T", None).await, ["t-two", "t-three"]);
    assert_eq!(found("tenant t-o", None).await, ["t-one"], "by name");
    assert_eq!(found("t-t", Some(created[1])).await, ["t-three"]);
    assert!(found("%", None).await.is_empty());
    assert!(found("_", None).await.is_empty());
    assert!(found("nothing", None).await.is_empty());
}

async fn users_are_unique_per_tenant_and_track_logins(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let mut alice = User::new(
        a.id,
        Email::parse("alice@example.com").unwrap(),
        Some("Alice"),
    )
    .unwrap();
    alice.password_hash = Some("$argon2id$fake".into());
    store
        .users
        .create(a.id, &alice, &["admin", "owner"])
        .await
        .unwrap();
    assert_eq!(
        store.users.by_id(a.id, alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .users
            .by_email(a.id, "alice@example.com")
            .await
            .unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.users.roles(a.id, alice.id).await.unwrap(),
        ["admin", "owner"]
    );

    let twin = User::new(a.id, Email::parse("alice@example.com").unwrap(), None).unwrap();
    assert!(matches!(
        store.users.create(a.id, &twin, &["admin"]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.users.by_id(a.id, twin.id).await.unwrap(), None);
    assert!(
        store.users.roles(a.id, twin.id).await.unwrap().is_empty(),
        "no half-created user"
    );

    let elsewhere = User::new(b.id, Email::parse("alice@example.com").unwrap(), None).unwrap();
    store.users.create(b.id, &elsewhere, &[]).await.unwrap();

    let at = Timestamp::from_unix(1_800_000_000);
    store.users.record_login(a.id, alice.id, at).await.unwrap();
    store.users.record_login(a.id, alice.id, at).await.unwrap();
    let after = store.users.by_id(a.id, alice.id).await.unwrap().unwrap();
    assert_eq!((after.login_count, after.last_login_at), (2, Some(at)));
    assert!(matches!(
        store
            .users
            .record_login(a.id, tessera::domain::UserId::generate(), at)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn users_of_one_tenant_are_invisible_to_another(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    assert_eq!(store.users.by_id(b.id, alice.id).await.unwrap(), None);
    assert_eq!(
        store
            .users
            .by_email(b.id, "alice@example.com")
            .await
            .unwrap(),
        None
    );
    assert!(store.users.roles(b.id, alice.id).await.unwrap().is_empty());
    assert!(matches!(
        store
            .users
            .record_login(b.id, alice.id, Timestamp::now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .users
            .by_id(a.id, alice.id)
            .await
            .unwrap()
            .unwrap()
            .login_count,
        0,
        "unchanged"
    );
}

async fn users_are_listed_a_page_at_a_time_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(user(store, &a, &format!("user{i}@example.com")).await.id);
        user(store, &b, &format!("other{i}@example.com")).await;
    }
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.users.list(a.id, after, 2).await.unwrap();
        assert!(page.len() <= 2, "a page holds at most the limit");
        assert!(page.iter().all(|u| u.tenant_id == a.id));
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        pages.push(page.iter().map(|u| u.id).collect::<Vec<_>>());
    }
    assert_eq!(pages.len(), 3, "2 + 2 + 1");
    assert_eq!(
        pages.concat(),
        created,
        "every user once, in creation order"
    );
    assert!(store
        .users
        .list(b.id, Some(created[0]), 10)
        .await
        .unwrap()
        .iter()
        .all(|u| u.tenant_id == b.id));
}

async fn clients_are_unique_per_tenant_and_isolated(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let app = client(&a, "app");
    store.clients.create(a.id, &app).await.unwrap();
    assert_eq!(
        store.clients.by_client_id(a.id, "app").await.unwrap(),
        Some(app.clone())
    );
    assert!(matches!(
        store.clients.create(a.id, &client(&a, "app")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.clients.by_client_id(b.id, "app").await.unwrap(), None);
    store
        .clients
        .create(b.id, &client(&b, "app"))
        .await
        .unwrap();
    assert_ne!(
        store
            .clients
            .by_client_id(b.id, "app")
            .await
            .unwrap()
            .unwrap()
            .key,
        app.key
    );
}

async fn sessions_touch_revoke_and_stay_in_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let s = session(&a, &alice, "sess-1");
    store.sessions.create(a.id, &s).await.unwrap();
    assert_eq!(
        store.sessions.get(a.id, "sess-1").await.unwrap(),
        Some(s.clone())
    );
    assert!(matches!(
        store.sessions.create(a.id, &s).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.sessions.get(b.id, "sess-1").await.unwrap(), None);

    let later = s.last_seen_at.plus_secs(120);
    store.sessions.touch(b.id, "sess-1", later).await.unwrap();
    store.sessions.revoke(b.id, "sess-1", later).await.unwrap();
    let untouched = store.sessions.get(a.id, "sess-1").await.unwrap().unwrap();
    assert_eq!(
        (untouched.last_seen_at, untouched.revoked_at),
        (s.last_seen_at, None),
        "another tenant changed nothing"
    );

    store.sessions.touch(a.id, "sess-1", later).await.unwrap();
    store.sessions.revoke(a.id, "sess-1", later).await.unwrap();
    store
        .sessions
        .revoke(a.id, "sess-1", later.plus_secs(5))
        .await
        .unwrap();
    let done = store.sessions.get(a.id, "sess-1").await.unwrap().unwrap();
    assert_eq!(
        (done.last_seen_at, done.revoked_at),
        (later, Some(later)),
        "the first revocation time stays"
    );
}

async fn consents_are_replaced_and_isolated(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let mut consent = Consent {
        tenant_id: a.id,
        user_id: alice.id,
        client_id: "app".into(),
        scopes: vec!["openid".into()],
        granted_at: Timestamp::from_unix(1_800_000_000),
    };
    store.consents.upsert(a.id, &consent).await.unwrap();
    consent.scopes.push("email".into());
    store.consents.upsert(a.id, &consent).await.unwrap();
    assert_eq!(
        store.consents.get(a.id, alice.id, "app").await.unwrap(),
        Some(consent)
    );
    assert_eq!(
        store.consents.get(b.id, alice.id, "app").await.unwrap(),
        None
    );
    assert_eq!(
        store.consents.get(a.id, alice.id, "other").await.unwrap(),
        None
    );
}

async fn signing_keys_are_listed_newest_first_and_isolated(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let mut old = signing_key(&a, "old", KeyState::Retired, 1_700_000_000);
    old.retires_at = Some(Timestamp::from_unix(1_700_100_000));
    let new = signing_key(&a, "new", KeyState::Active, 1_800_000_000);
    store.keys.insert(a.id, &old).await.unwrap();
    store.keys.insert(a.id, &new).await.unwrap();
    let listed = store.keys.list(a.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["new", "old"]
    );
    assert_eq!(listed, [new, old], "every field survives the round trip");
    assert!(store.keys.list(b.id).await.unwrap().is_empty());
}

fn api_key(tenant: &Tenant, name: &str, hash: &str, created_at: i64) -> ApiKey {
    ApiKey::new(
        tenant.id,
        name,
        &["users:read".to_string(), "audit:read".to_string()],
        30,
        "tsk_abcdef".into(),
        hash.into(),
        "cli".into(),
        Timestamp::from_unix(created_at),
    )
    .unwrap()
}

async fn api_keys_are_found_by_hash_used_and_revoked_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let old = api_key(&a, "Old", "hash-old", 1_700_000_000);
    let new = api_key(&a, "New", "hash-new", 1_800_000_000);
    store.api_keys.create(a.id, &old).await.unwrap();
    store.api_keys.create(a.id, &new).await.unwrap();
    assert!(
        matches!(
            store
                .api_keys
                .create(a.id, &api_key(&a, "Twin", "hash-old", 1))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a hash is one key's"
    );
    assert_eq!(
        store.api_keys.list(a.id).await.unwrap(),
        [new.clone(), old.clone()],
        "newest first, every field survives the round trip"
    );
    assert_eq!(
        store.api_keys.by_hash(a.id, "hash-old").await.unwrap(),
        Some(old.clone())
    );
    // Another tenant neither finds, uses nor revokes it.
    assert!(store.api_keys.list(b.id).await.unwrap().is_empty());
    assert_eq!(
        store.api_keys.by_hash(b.id, "hash-old").await.unwrap(),
        None
    );
    store
        .api_keys
        .record_use(
            b.id,
            old.id,
            Timestamp::from_unix(5),
            Timestamp::from_unix(0),
        )
        .await
        .unwrap();
    assert!(!store
        .api_keys
        .revoke(b.id, old.id, Timestamp::from_unix(5))
        .await
        .unwrap());

    // A use is written once per interval: a later use within it changes nothing.
    let used = |at: i64| Timestamp::from_unix(at);
    let old_id = old.id;
    let use_at = |at: i64, since: i64| async move {
        store
            .api_keys
            .record_use(a.id, old_id, used(at), used(since))
            .await
            .unwrap()
    };
    let stored = || async {
        let found = store.api_keys.by_hash(a.id, "hash-old").await.unwrap();
        found.expect("the key")
    };
    use_at(1_000, 940).await;
    use_at(1_030, 970).await;
    assert_eq!(stored().await.last_used_at, Some(used(1_000)));
    use_at(1_070, 1_010).await;
    assert_eq!(stored().await.last_used_at, Some(used(1_070)));

    assert!(store
        .api_keys
        .revoke(a.id, old.id, used(2_000))
        .await
        .unwrap());
    assert!(
        !store
            .api_keys
            .revoke(a.id, old.id, used(3_000))
            .await
            .unwrap(),
        "revoked once"
    );
    assert_eq!(stored().await.revoked_at, Some(used(2_000)));
    assert_eq!(
        store
            .api_keys
            .by_hash(a.id, "hash-new")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    // Deleting the tenant deletes its keys.
    store.tenants.delete(a.id).await.unwrap();
    assert!(store.api_keys.list(a.id).await.unwrap().is_empty());
}

fn initial_token(tenant: &Tenant, hash: &str, max_uses: i64, created: i64) -> InitialAccessToken {
    InitialAccessToken::new(
        tenant.id,
        "Partners",
        max_uses,
        7,
        "tsi_abcdef".into(),
        hash.into(),
        "cli".into(),
        Timestamp::from_unix(created),
    )
    .unwrap()
}

async fn initial_tokens_are_spent_once_per_use_and_revoked_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let now = Timestamp::now();
    let old = initial_token(&a, "hash-old", 3, now.unix() - 60);
    let new = initial_token(&a, "hash-new", 1, now.unix());
    let tokens = &store.initial_tokens;
    tokens.create(a.id, &old).await.unwrap();
    tokens.create(a.id, &new).await.unwrap();
    assert!(
        matches!(
            tokens
                .create(a.id, &initial_token(&a, "hash-old", 1, 5))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a hash is one token's"
    );
    assert_eq!(
        tokens.list(a.id).await.unwrap(),
        [new.clone(), old.clone()],
        "newest first, every field survives the round trip"
    );
    // Another tenant neither sees, spends nor revokes it.
    assert!(tokens.list(b.id).await.unwrap().is_empty());
    assert_eq!(tokens.spend(b.id, "hash-old", now).await.unwrap(), None);
    assert!(!tokens.revoke(b.id, old.id, now).await.unwrap());

    // Three uses, spent concurrently: exactly three callers win.
    let spends = (0..6).map(|_| tokens.spend(a.id, "hash-old", now));
    let won: Vec<_> = futures_util::future::join_all(spends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut counts: Vec<i64> = won.iter().flatten().map(|t| t.uses).collect();
    counts.sort();
    assert_eq!(counts, [1, 2, 3], "each use counted once");
    assert_eq!(
        tokens.spend(a.id, "hash-old", now).await.unwrap(),
        None,
        "used up"
    );

    // Neither an expired nor a revoked token is spent.
    assert_eq!(
        tokens
            .spend(a.id, "hash-new", new.expires_at)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert!(tokens.revoke(a.id, new.id, now).await.unwrap());
    assert!(
        !tokens.revoke(a.id, new.id, now).await.unwrap(),
        "revoked once"
    );
    assert_eq!(
        tokens.spend(a.id, "hash-new", now).await.unwrap(),
        None,
        "revoked"
    );
    let listed = tokens.list(a.id).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(now));
    assert_eq!(listed[0].uses, 0);

    // Deleting the tenant deletes its tokens.
    store.tenants.delete(a.id).await.unwrap();
    assert!(tokens.list(a.id).await.unwrap().is_empty());
}

fn connection(tenant: &Tenant, slug: &str, protocol: Protocol) -> Connection {
    let created = Timestamp::from_unix(1_700_000_000);
    Connection {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        slug: slug.into(),
        name: format!("Corp {slug}"),
        preset: Preset::Oidc,
        protocol,
        client_id: format!("tessera-{slug}"),
        client_secret: Some("c2VhbGVkIHNlY3JldA==".into()),
        scopes: vec!["openid".into(), "email".into()],
        claims: ClaimMapping::default(),
        domains: vec![format!("{slug}.example"), "corp.example".into()],
        provisioning: true,
        enabled: true,
        created_at: created,
        updated_at: created,
    }
}

fn oidc(issuer: &str) -> Protocol {
    Protocol::Oidc {
        issuer: issuer.into(),
    }
}

fn saml(certificates: &[&str]) -> Protocol {
    Protocol::Saml {
        entity_id: "https://idp.corp.example/saml".into(),
        sso_url: "https://idp.corp.example/saml/sso".into(),
        certificates: certificates.iter().map(|c| c.to_string()).collect(),
    }
}

fn github() -> Protocol {
    Protocol::OAuth2 {
        authorization_endpoint: "https://github.com/login/oauth/authorize".into(),
        token_endpoint: "https://github.com/login/oauth/access_token".into(),
        userinfo_endpoint: "https://api.github.com/user".into(),
    }
}

fn link(connection: &Connection, person: &User, subject: &str, created: i64) -> LinkedIdentity {
    LinkedIdentity {
        tenant_id: person.tenant_id,
        connection_id: connection.id,
        subject: subject.into(),
        user_id: person.id,
        email: Some(person.email.as_str().into()),
        created_at: Timestamp::from_unix(created),
        last_used_at: None,
    }
}

async fn connections_are_created_listed_updated_and_deleted_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let connections = &store.connections;
    let corp = connection(&a, "corpa", oidc("https://idp.corp.example"));
    let hub = Connection {
        preset: Preset::GitHub,
        client_secret: None,
        claims: ClaimMapping {
            subject: "id".into(),
            email: "email".into(),
            email_verified: "verified".into(),
            name: "login".into(),
        },
        domains: Vec::new(),
        provisioning: false,
        enabled: false,
        ..connection(&a, "corp-b", github())
    };
    connections.create(a.id, &corp).await.unwrap();
    connections.create(a.id, &hub).await.unwrap();
    assert_eq!(
        connections.list(a.id).await.unwrap(),
        [hub.clone(), corp.clone()],
        "in the slugs' byte order, disabled ones too; every field survives the round trip"
    );
    assert_eq!(
        connections.by_slug(a.id, "corpa").await.unwrap(),
        Some(corp.clone())
    );
    assert_eq!(connections.by_slug(a.id, "corp").await.unwrap(), None);

    // A SAML identity provider keeps its certificates, in order, through a create and an update.
    let sso = Connection {
        preset: Preset::Saml,
        client_secret: None,
        scopes: Vec::new(),
        ..connection(&a, "sso", saml(&["MIIB-first", "MIIB-second"]))
    };
    connections.create(a.id, &sso).await.unwrap();
    assert_eq!(
        connections.by_slug(a.id, "sso").await.unwrap(),
        Some(sso.clone())
    );
    let rolled = Connection {
        protocol: saml(&["MIIB-second", "MIIB-third"]),
        ..sso.clone()
    };
    connections.update(a.id, &rolled).await.unwrap();
    assert_eq!(
        connections.by_slug(a.id, "sso").await.unwrap(),
        Some(rolled)
    );
    assert!(connections.delete(a.id, sso.id).await.unwrap());

    let twin = connection(&a, "corpa", oidc("https://other.example"));
    assert!(
        matches!(
            connections.create(a.id, &twin).await,
            Err(StoreError::Conflict("connection"))
        ),
        "a slug is one connection's in its tenant"
    );
    let same_id = Connection {
        slug: "other".into(),
        ..corp.clone()
    };
    assert!(matches!(
        connections.create(a.id, &same_id).await,
        Err(StoreError::Conflict("connection"))
    ));
    // Another tenant may use the slug, and finds none of these.
    let theirs = connection(&b, "corpa", oidc("https://idp.beta.example"));
    connections.create(b.id, &theirs).await.unwrap();
    assert_eq!(
        connections.by_slug(b.id, "corpa").await.unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(connections.by_slug(b.id, "corp-b").await.unwrap(), None);

    // An update replaces every setting, the kind of protocol too, and keeps the creation time.
    let changed = Connection {
        slug: "corp".into(),
        name: "Corp (OAuth)".into(),
        preset: Preset::OAuth2,
        protocol: github(),
        client_id: "another-client".into(),
        client_secret: None,
        scopes: vec!["read:user".into()],
        claims: ClaimMapping {
            subject: "user.id".into(),
            email: "mail".into(),
            email_verified: "mail_verified".into(),
            name: "display_name".into(),
        },
        domains: vec!["corp.example".into()],
        provisioning: false,
        enabled: false,
        updated_at: Timestamp::from_unix(1_800_000_000),
        ..corp.clone()
    };
    let rewritten = Connection {
        created_at: Timestamp::from_unix(5),
        ..changed.clone()
    };
    connections.update(a.id, &rewritten).await.unwrap();
    assert_eq!(
        connections.by_slug(a.id, "corp").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        connections.by_slug(a.id, "corpa").await.unwrap(),
        None,
        "its old slug is free"
    );
    let taken = Connection {
        slug: "corp-b".into(),
        ..changed.clone()
    };
    assert!(
        matches!(
            connections.update(a.id, &taken).await,
            Err(StoreError::Conflict("connection"))
        ),
        "another's slug"
    );
    let unknown = connection(&a, "ghost", oidc("https://ghost.example"));
    assert!(matches!(
        connections.update(a.id, &unknown).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        matches!(
            connections.update(b.id, &changed).await,
            Err(StoreError::NotFound)
        ),
        "not another tenant's"
    );

    assert!(
        !connections.delete(b.id, hub.id).await.unwrap(),
        "not another tenant's"
    );
    assert!(connections.delete(a.id, hub.id).await.unwrap());
    assert!(!connections.delete(a.id, hub.id).await.unwrap(), "gone");
    assert_eq!(connections.list(a.id).await.unwrap(), [changed]);

    // Deleting the tenant deletes its connections.
    store.tenants.delete(a.id).await.unwrap();
    assert!(connections.list(a.id).await.unwrap().is_empty());
    assert_eq!(connections.list(b.id).await.unwrap(), [theirs]);
}

async fn identities_are_linked_once_and_go_with_their_connection_person_and_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let connections = &store.connections;
    let corp = connection(&a, "corp", oidc("https://idp.corp.example"));
    let hub = connection(&a, "github", github());
    for c in [&corp, &hub] {
        connections.create(a.id, c).await.unwrap();
    }
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    let ada_corp = link(&corp, &ada, "ada-1", 1_700_000_100);
    let ada_hub = LinkedIdentity {
        email: None,
        ..link(&hub, &ada, "12345", 1_700_000_000)
    };
    let grace_corp = link(&corp, &grace, "grace-1", 1_700_000_000);
    for l in [&ada_corp, &ada_hub, &grace_corp] {
        connections.link(a.id, l).await.unwrap();
    }
    assert_eq!(
        connections.links_of(a.id, ada.id).await.unwrap(),
        [ada_hub.clone(), ada_corp.clone()],
        "oldest first; every field survives the round trip"
    );
    assert_eq!(
        connections.linked(a.id, corp.id, "ada-1").await.unwrap(),
        Some(ada_corp.clone())
    );
    assert_eq!(
        connections.linked(a.id, hub.id, "ada-1").await.unwrap(),
        None,
        "a subject is its provider's"
    );

    assert!(
        matches!(
            connections
                .link(a.id, &link(&corp, &grace, "ada-1", 5))
                .await,
            Err(StoreError::Conflict("linked identity"))
        ),
        "an upstream identity is linked to one person"
    );
    assert!(matches!(
        connections.link(a.id, &ada_corp).await,
        Err(StoreError::Conflict("linked identity"))
    ));
    let stranger = User::new(a.id, Email::parse("nobody@example.com").unwrap(), None).unwrap();
    assert!(
        matches!(
            connections
                .link(a.id, &link(&corp, &stranger, "x", 5))
                .await,
            Err(StoreError::NotFound)
        ),
        "only for a person who exists"
    );
    let unmade = connection(&a, "unmade", oidc("https://unmade.example"));
    assert!(
        matches!(
            connections.link(a.id, &link(&unmade, &ada, "x", 5)).await,
            Err(StoreError::NotFound)
        ),
        "only through a connection that exists"
    );

    // Another tenant links the same subject at its own provider, and neither finds, uses nor
    // removes the links of this one, nor links through its connections.
    let theirs = connection(&b, "corp", oidc("https://idp.corp.example"));
    connections.create(b.id, &theirs).await.unwrap();
    let bob = user(store, &b, "ada@example.com").await;
    let bob_corp = link(&theirs, &bob, "ada-1", 1_700_000_000);
    connections.link(b.id, &bob_corp).await.unwrap();
    assert!(matches!(
        connections.link(b.id, &link(&corp, &bob, "bob", 5)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        connections.linked(b.id, corp.id, "ada-1").await.unwrap(),
        None
    );
    assert!(connections.links_of(b.id, ada.id).await.unwrap().is_empty());
    let used = Timestamp::from_unix(1_800_000_000);
    connections
        .record_link_use(b.id, corp.id, "ada-1", used)
        .await
        .unwrap();
    assert!(!connections
        .unlink(b.id, ada.id, corp.id, "ada-1")
        .await
        .unwrap());
    assert_eq!(
        connections.linked(a.id, corp.id, "ada-1").await.unwrap(),
        Some(ada_corp.clone()),
        "untouched"
    );

    connections
        .record_link_use(a.id, corp.id, "ada-1", used)
        .await
        .unwrap();
    let ada_corp = LinkedIdentity {
        last_used_at: Some(used),
        ..ada_corp
    };
    assert_eq!(
        connections.linked(a.id, corp.id, "ada-1").await.unwrap(),
        Some(ada_corp.clone())
    );
    connections
        .record_link_use(a.id, corp.id, "unlinked-meanwhile", used)
        .await
        .expect("a use of a link that is gone changes nothing");

    assert!(
        !connections
            .unlink(a.id, grace.id, corp.id, "ada-1")
            .await
            .unwrap(),
        "not another person's link"
    );
    assert!(connections
        .unlink(a.id, ada.id, hub.id, "12345")
        .await
        .unwrap());
    assert!(
        !connections
            .unlink(a.id, ada.id, hub.id, "12345")
            .await
            .unwrap(),
        "gone"
    );
    assert_eq!(
        connections.links_of(a.id, ada.id).await.unwrap(),
        [ada_corp]
    );

    // Deleting a connection deletes its links: made again, it has none.
    assert!(connections.delete(a.id, corp.id).await.unwrap());
    for person in [&ada, &grace] {
        assert!(connections
            .links_of(a.id, person.id)
            .await
            .unwrap()
            .is_empty());
    }
    connections.create(a.id, &corp).await.unwrap();
    assert_eq!(
        connections.linked(a.id, corp.id, "grace-1").await.unwrap(),
        None
    );

    // Deleting a person for good deletes their links.
    connections.link(a.id, &grace_corp).await.unwrap();
    connections.link(a.id, &ada_hub).await.unwrap();
    assert!(store.users.delete(a.id, grace.id).await.unwrap());
    assert_eq!(
        connections.linked(a.id, corp.id, "grace-1").await.unwrap(),
        None
    );
    assert_eq!(connections.links_of(a.id, ada.id).await.unwrap(), [ada_hub]);

    // Deleting the tenant deletes its links; the other tenant keeps its own.
    store.tenants.delete(a.id).await.unwrap();
    assert!(connections.links_of(a.id, ada.id).await.unwrap().is_empty());
    assert_eq!(
        connections.linked(a.id, hub.id, "12345").await.unwrap(),
        None
    );
    assert_eq!(
        connections.links_of(b.id, bob.id).await.unwrap(),
        [bob_corp]
    );
}

async fn concurrent_links_of_one_identity_have_exactly_one_winner(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let corp = connection(&a, "corp", oidc("https://idp.corp.example"));
    store.connections.create(a.id, &corp).await.unwrap();
    let people = [
        user(store, &a, "ada@example.com").await,
        user(store, &a, "grace@example.com").await,
    ];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, attempt) = (store.clone(), link(&corp, &people[i % 2], "shared", 1));
            tokio::spawn(async move {
                let outcome = store.connections.link(attempt.tenant_id, &attempt).await;
                (attempt.user_id, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (person, Ok(())) => winners.push(person),
            (_, Err(StoreError::Conflict("linked identity"))) => {}
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one link wins");
    let held = store.connections.linked(a.id, corp.id, "shared").await;
    assert_eq!(held.unwrap().map(|l| l.user_id), Some(winners[0]));
}

fn webhook_endpoint(tenant: &Tenant, created_at: Timestamp) -> WebhookEndpoint {
    WebhookEndpoint::new(
        tenant.id,
        "https://hooks.example.com/a",
        "desc",
        &["user.created".into()],
        vec![1, 2, 3],
        false,
        created_at,
    )
    .unwrap()
}

fn delivery(endpoint: &WebhookEndpoint, at: Timestamp, succeeded: bool) -> DeliveryAttempt {
    DeliveryAttempt {
        id: uuid::Uuid::now_v7(),
        tenant_id: endpoint.tenant_id,
        endpoint_id: endpoint.id,
        message_id: format!("msg_{}", at.unix()),
        event_type: "user.created".into(),
        payload: r#"{"type":"user.created","data":{}}"#.into(),
        attempt: 2,
        at,
        status: succeeded.then_some(200),
        latency_ms: 1_234,
        response: (if succeeded { "ok" } else { "refused" }).into(),
        succeeded,
    }
}

async fn webhook_endpoints_and_their_delivery_log_stay_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let now = Timestamp::now();
    let t = |secs: i64| now.plus_secs(secs);
    let old = webhook_endpoint(&a, t(-60));
    let new = webhook_endpoint(&a, now);
    let theirs = webhook_endpoint(&b, now);
    let hooks = &store.webhooks;
    hooks.create_endpoint(a.id, &old).await.unwrap();
    hooks.create_endpoint(a.id, &new).await.unwrap();
    hooks.create_endpoint(b.id, &theirs).await.unwrap();
    assert!(
        matches!(
            hooks.create_endpoint(a.id, &old).await,
            Err(StoreError::Conflict(_))
        ),
        "an id is one endpoint's"
    );
    assert_eq!(
        hooks.endpoints(a.id).await.unwrap(),
        [new.clone(), old.clone()],
        "newest first, every field survives the round trip"
    );
    assert_eq!(
        hooks.endpoints(b.id).await.unwrap(),
        std::slice::from_ref(&theirs)
    );
    assert_eq!(
        hooks.endpoint(a.id, old.id).await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(hooks.endpoint(b.id, old.id).await.unwrap(), None);

    // Every field but the id, tenant and creation time is stored.
    let mut changed = old.clone();
    changed.url = "https://hooks.example.com/b".into();
    changed.description = "changed".into();
    changed.events = vec!["user.deleted".into(), "user.updated".into()];
    changed.secret = vec![4, 5, 6, 7];
    changed.enabled = false;
    changed.disabled_reason = Some("paused".into());
    changed.failing_since = Some(t(-30));
    changed.updated_at = t(5);
    changed.created_at = t(-1_000);
    assert!(hooks.update_endpoint(a.id, &changed).await.unwrap());
    changed.created_at = old.created_at;
    assert_eq!(
        hooks.endpoint(a.id, old.id).await.unwrap(),
        Some(changed.clone())
    );
    let unknown = webhook_endpoint(&a, now);
    assert!(!hooks.update_endpoint(a.id, &unknown).await.unwrap());
    assert_eq!(hooks.endpoint(a.id, unknown.id).await.unwrap(), None);
    let mut hijacked = changed.clone();
    hijacked.url = "https://attacker.example.com/".into();
    assert!(
        !hooks.update_endpoint(b.id, &hijacked).await.unwrap(),
        "another tenant's endpoint is not found"
    );
    assert_eq!(
        hooks.endpoint(a.id, old.id).await.unwrap(),
        Some(changed.clone())
    );

    // Failures: the first sets `failing_since`; the endpoint is disabled once it has been
    // failing since `disable_before` or earlier, by one call only.
    let stored = |id| async move { hooks.endpoint(a.id, id).await.unwrap().expect("endpoint") };
    let reason = "Deliveries failed for 5 days";
    let first = delivery(&new, t(100), false);
    assert!(!hooks
        .record_attempt(a.id, &first, t(0), reason)
        .await
        .unwrap());
    assert_eq!(stored(new.id).await.failing_since, Some(t(100)));
    let second = delivery(&new, t(200), false);
    assert!(
        !hooks
            .record_attempt(a.id, &second, t(99), reason)
            .await
            .unwrap(),
        "failing since after disable_before"
    );
    let after_second = stored(new.id).await;
    assert!(after_second.enabled);
    assert_eq!(after_second.disabled_reason, None);
    assert_eq!(
        after_second.failing_since,
        Some(t(100)),
        "the first failure since the last success"
    );
    let third = delivery(&new, t(300), false);
    assert!(hooks
        .record_attempt(a.id, &third, t(100), reason)
        .await
        .unwrap());
    let disabled = stored(new.id).await;
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some(reason));
    assert_eq!(disabled.failing_since, Some(t(100)));
    let fourth = delivery(&new, t(400), false);
    assert!(
        !hooks
            .record_attempt(a.id, &fourth, t(400), "again")
            .await
            .unwrap(),
        "disabled once"
    );
    assert_eq!(
        stored(new.id).await.disabled_reason.as_deref(),
        Some(reason)
    );
    let fifth = delivery(&new, t(500), true);
    assert!(!hooks
        .record_attempt(a.id, &fifth, t(500), reason)
        .await
        .unwrap());
    assert_eq!(
        stored(new.id).await.failing_since,
        None,
        "a success clears it"
    );

    // Attempts of another endpoint and of another tenant.
    let elsewhere = delivery(&old, t(250), true);
    assert!(!hooks
        .record_attempt(a.id, &elsewhere, t(0), reason)
        .await
        .unwrap());
    changed.failing_since = None;
    assert_eq!(stored(old.id).await, changed, "a success says nothing else");
    let their_attempt = delivery(&theirs, t(150), false);
    assert!(!hooks
        .record_attempt(b.id, &their_attempt, t(0), reason)
        .await
        .unwrap());
    assert_eq!(
        hooks
            .endpoint(b.id, theirs.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        Some(t(150))
    );
    assert_eq!(
        stored(new.id).await.failing_since,
        None,
        "another tenant's failure says nothing of this endpoint"
    );

    assert_eq!(
        hooks.attempts(a.id, new.id, 10).await.unwrap(),
        [
            fifth.clone(),
            fourth.clone(),
            third.clone(),
            second.clone(),
            first.clone()
        ],
        "newest first, every field survives the round trip"
    );
    assert_eq!(
        hooks.attempts(a.id, new.id, 2).await.unwrap(),
        [fifth.clone(), fourth.clone()]
    );
    assert_eq!(
        hooks.attempts(a.id, old.id, 10).await.unwrap(),
        std::slice::from_ref(&elsewhere)
    );
    assert!(hooks.attempts(b.id, new.id, 10).await.unwrap().is_empty());
    assert!(hooks
        .attempts(a.id, theirs.id, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        hooks.attempt(a.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(hooks.attempt(b.id, first.id).await.unwrap(), None);
    assert_eq!(
        hooks.attempt(b.id, their_attempt.id).await.unwrap(),
        Some(their_attempt.clone())
    );

    // The purge takes the old attempts of every tenant, a bounded batch at a time.
    let cutoff = t(250);
    assert_eq!(hooks.purge_attempts_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(hooks.purge_attempts_before(cutoff, 2).await.unwrap(), 1);
    assert_eq!(hooks.purge_attempts_before(cutoff, 2).await.unwrap(), 0);
    assert_eq!(
        hooks.attempts(a.id, new.id, 10).await.unwrap(),
        [fifth.clone(), fourth.clone(), third.clone()]
    );
    assert_eq!(hooks.attempt(a.id, first.id).await.unwrap(), None);
    assert_eq!(hooks.attempt(b.id, their_attempt.id).await.unwrap(), None);
    assert_eq!(
        hooks.attempt(a.id, elsewhere.id).await.unwrap(),
        Some(elsewhere.clone()),
        "not before the cutoff"
    );

    // Deleting an endpoint deletes its log, only within its tenant.
    assert!(!hooks.delete_endpoint(b.id, new.id).await.unwrap());
    assert!(hooks.endpoint(a.id, new.id).await.unwrap().is_some());
    assert!(hooks.delete_endpoint(a.id, new.id).await.unwrap());
    assert!(
        !hooks.delete_endpoint(a.id, new.id).await.unwrap(),
        "deleted once"
    );
    assert_eq!(hooks.endpoint(a.id, new.id).await.unwrap(), None);
    assert!(hooks.attempts(a.id, new.id, 10).await.unwrap().is_empty());
    assert_eq!(hooks.attempt(a.id, fifth.id).await.unwrap(), None);
    assert_eq!(hooks.endpoints(a.id).await.unwrap(), [changed]);
    assert_eq!(
        hooks.attempt(a.id, elsewhere.id).await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(hooks.endpoints(b.id).await.unwrap().len(), 1);

    // Deleting the tenant deletes its endpoints and their log.
    store.tenants.delete(a.id).await.unwrap();
    assert!(hooks.endpoints(a.id).await.unwrap().is_empty());
    assert_eq!(hooks.attempt(a.id, elsewhere.id).await.unwrap(), None);
}

fn signing_key(tenant: &Tenant, kid: &str, state: KeyState, created_at: i64) -> SigningKey {
    SigningKey {
        tenant_id: tenant.id,
        kid: kid.into(),
        alg: SigningAlg::ES256,
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        private_key_sealed: vec![1, 2, 3, 0, 255],
        state,
        created_at: Timestamp::from_unix(created_at),
        activates_at: Timestamp::from_unix(created_at),
        retires_at: None,
    }
}

/// Processes creating or rotating keys at the same moment must not both succeed, and a
/// rotation hands signing from one key to the next in one step.
async fn keys_rotate_with_one_active_and_one_next_key_per_algorithm(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let key = |kid: &str, state, at| signing_key(&a, kid, state, at);
    store
        .keys
        .insert(a.id, &key("first", KeyState::Active, 1_700_000_000))
        .await
        .unwrap();
    for (kid, state) in [
        ("second", KeyState::Active),
        ("second-next", KeyState::Next),
    ] {
        if state == KeyState::Next {
            store
                .keys
                .insert(a.id, &key("next", KeyState::Next, 1_700_000_001))
                .await
                .unwrap();
        }
        assert!(
            matches!(
                store
                    .keys
                    .insert(a.id, &key(kid, state, 1_700_000_002))
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "a second {state:?} key"
        );
    }
    let mut ed = key("ed", KeyState::Active, 1_700_000_003);
    ed.alg = SigningAlg::EdDSA;
    store.keys.insert(a.id, &ed).await.unwrap();
    store
        .keys
        .insert(
            b.id,
            &signing_key(&b, "first-of-b", KeyState::Active, 1_700_000_000),
        )
        .await
        .unwrap();

    let until = Timestamp::from_unix(1_900_000_000);
    assert!(
        !store
            .keys
            .promote(b.id, SigningAlg::ES256, "next", until)
            .await
            .unwrap(),
        "not a key of beta"
    );
    assert!(store
        .keys
        .promote(a.id, SigningAlg::ES256, "next", until)
        .await
        .unwrap());
    assert!(
        !store
            .keys
            .promote(a.id, SigningAlg::ES256, "next", until)
            .await
            .unwrap(),
        "promoted already"
    );
    let states: Vec<(String, KeyState, Option<Timestamp>)> = store
        .keys
        .list(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.state, k.retires_at))
        .collect();
    assert_eq!(
        states,
        [
            ("ed".to_string(), KeyState::Active, None),
            ("next".to_string(), KeyState::Active, None),
            ("first".to_string(), KeyState::Retired, Some(until)),
        ]
    );
    assert_eq!(
        store.keys.list(b.id).await.unwrap()[0].state,
        KeyState::Active,
        "beta's key is untouched"
    );
    assert_eq!(
        store.keys.purge_retired(until, 10).await.unwrap(),
        0,
        "published until its time is up"
    );
    assert_eq!(
        store
            .keys
            .purge_retired(until.plus_secs(1), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.keys.list(a.id).await.unwrap().len(), 2);
}

async fn audit_events_come_newest_first_with_a_limit_and_isolated(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    store
        .audit
        .append_all(&[])
        .await
        .expect("nothing to append");
    for i in 0..5 {
        let mut event =
            AuditEvent::new(a.id, &format!("event.{i}"), Outcome::Success, "cli").reason("why");
        event.at = Timestamp::from_unix(1_800_000_000 + i);
        event.ip = Some("192.0.2.7".into());
        store.audit.append(&event).await.unwrap();
    }
    store
        .audit
        .append(&AuditEvent::new(
            b.id,
            "other",
            Outcome::Failure,
            "anonymous",
        ))
        .await
        .unwrap();
    let recent = store.audit.recent(a.id, None, 3).await.unwrap();
    assert_eq!(
        recent.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["event.4", "event.3", "event.2"]
    );
    assert_eq!(
        (recent[0].ip.as_deref(), recent[0].reason.as_deref()),
        (Some("192.0.2.7"), Some("why"))
    );
    let other = store.audit.recent(b.id, None, 10).await.unwrap();
    assert_eq!((other.len(), other[0].outcome), (1, Outcome::Failure));
}

async fn a_batch_is_stored_whole_or_not_at_all(store: &Store) {
    let t = tenant(store, "acme").await;
    let person = user(store, &t, "ada@example.com").await;
    let event = AuditEvent::new(t.id, "token.issued", Outcome::Success, "client:app");
    store
        .batches
        .write_batch(&[], &[], std::slice::from_ref(&event), &[])
        .await
        .unwrap();
    let issued = Issuance {
        access: token(&t, &person, "jti-1", None),
        refresh: None,
    };
    // The event is already stored, so the batch's second insert fails: the token's record
    // and the webhook message must not stay behind (the group commit then retries each row
    // alone).
    let message = job(&t, "{}", Timestamp::now());
    let refused = store
        .batches
        .write_batch(&[], std::slice::from_ref(&issued), &[event], &[message])
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        store.artifacts.access_token(t.id, "jti-1").await.unwrap(),
        None
    );
    assert!(store.jobs.pending(t.id).await.unwrap().is_empty());

    let fresh = AuditEvent::new(t.id, "token.issued", Outcome::Success, "client:app");
    store
        .batches
        .write_batch(&[], &[issued], &[fresh], &[])
        .await
        .unwrap();
    assert!(store
        .artifacts
        .access_token(t.id, "jti-1")
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.audit.recent(t.id, None, 10).await.unwrap().len(), 2);
}

async fn login_flows_expire_and_are_isolated(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let live = flow(&a, "flow-live", Timestamp::now().plus_secs(600));
    store.artifacts.put_flow(a.id, &live).await.unwrap();
    store
        .artifacts
        .put_flow(a.id, &flow(&a, "flow-old", Timestamp::now().plus_secs(-1)))
        .await
        .unwrap();
    assert_eq!(
        store.artifacts.get_flow(a.id, "flow-live").await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        store.artifacts.get_flow(a.id, "flow-old").await.unwrap(),
        None,
        "expired flows are gone"
    );
    assert_eq!(
        store.artifacts.get_flow(b.id, "flow-live").await.unwrap(),
        None
    );

    let mut advanced = live.clone();
    advanced.denied = true;
    store.artifacts.put_flow(a.id, &advanced).await.unwrap();
    assert_eq!(
        store.artifacts.get_flow(a.id, "flow-live").await.unwrap(),
        Some(advanced)
    );
    store
        .artifacts
        .delete_flow(b.id, "flow-live")
        .await
        .unwrap();
    assert!(
        store
            .artifacts
            .get_flow(a.id, "flow-live")
            .await
            .unwrap()
            .is_some(),
        "another tenant cannot delete it"
    );
    store
        .artifacts
        .delete_flow(a.id, "flow-live")
        .await
        .unwrap();
    assert_eq!(
        store.artifacts.get_flow(a.id, "flow-live").await.unwrap(),
        None
    );
}

async fn codes_are_redeemed_once_and_only_in_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let record = code(&a, &alice, "code-hash-1", Timestamp::now().plus_secs(60));
    store.artifacts.put_code(a.id, &record).await.unwrap();
    assert!(matches!(
        store.artifacts.put_code(a.id, &record).await,
        Err(StoreError::Conflict(_))
    ));
    let now = Timestamp::now();
    assert!(matches!(
        store
            .artifacts
            .redeem_code(b.id, "code-hash-1", now)
            .await
            .unwrap(),
        Redemption::Unknown
    ));
    match store
        .artifacts
        .redeem_code(a.id, "code-hash-1", now)
        .await
        .unwrap()
    {
        Redemption::Redeemed(got) => assert_eq!(got, record),
        other => panic!("expected the first redemption to win, got {other:?}"),
    }
    assert!(matches!(
        store
            .artifacts
            .redeem_code(a.id, "code-hash-1", now)
            .await
            .unwrap(),
        Redemption::AlreadyUsed(_)
    ));
    assert!(matches!(
        store
            .artifacts
            .redeem_code(a.id, "nope", now)
            .await
            .unwrap(),
        Redemption::Unknown
    ));
}

async fn concurrent_redemptions_have_exactly_one_winner(store: &Store) {
    let a = tenant(store, "alpha").await;
    let alice = user(store, &a, "alice@example.com").await;
    store
        .artifacts
        .put_code(
            a.id,
            &code(&a, &alice, "race", Timestamp::now().plus_secs(60)),
        )
        .await
        .unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (artifacts, tenant) = (store.artifacts.clone(), a.id);
        racers.spawn(async move {
            artifacts
                .redeem_code(tenant, "race", Timestamp::now())
                .await
                .unwrap()
        });
    }
    let results = racers.join_all().await;
    let winners = results
        .iter()
        .filter(|r| matches!(r, Redemption::Redeemed(_)))
        .count();
    let losers = results
        .iter()
        .filter(|r| matches!(r, Redemption::AlreadyUsed(_)))
        .count();
    assert_eq!((winners, losers), (1, 7));
}

/// Reads that arrive together (a store may answer them with one statement) each get the record
/// of their own token, in their own tenant, revoked or not, or nothing.
async fn concurrent_token_reads_each_get_their_own_record_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let (alice, bob) = (
        user(store, &a, "alice@example.com").await,
        user(store, &b, "bob@example.com").await,
    );
    for n in 0..20 {
        let jti = format!("a{n}");
        store
            .artifacts
            .record_access_token(a.id, &token(&a, &alice, &jti, None))
            .await
            .unwrap();
    }
    store
        .artifacts
        .record_access_token(b.id, &token(&b, &bob, "b0", None))
        .await
        .unwrap();
    store
        .artifacts
        .revoke_access_token(a.id, "a3", Timestamp::now())
        .await
        .unwrap();

    let mut asked: Vec<(TenantId, String)> = (0..20).map(|n| (a.id, format!("a{n}"))).collect();
    asked.extend([
        (b.id, "b0".to_owned()),
        (b.id, "a1".to_owned()),
        (a.id, "b0".to_owned()),
        (a.id, "unknown".to_owned()),
        (a.id, "a5".to_owned()),
    ]);
    let answers = futures_util::future::join_all(
        asked
            .iter()
            .map(|(tenant, jti)| store.artifacts.access_token(*tenant, jti)),
    )
    .await;
    for ((tenant, jti), answer) in asked.iter().zip(answers) {
        let answer = answer.unwrap();
        let owner = if jti.starts_with('a') { a.id } else { b.id };
        if *tenant != owner || jti == "unknown" {
            assert_eq!(answer, None, "{jti} asked in the other tenant");
            continue;
        }
        let record = answer.unwrap_or_else(|| panic!("{jti} is found"));
        assert_eq!(
            (record.tenant_id, record.jti.as_str()),
            (*tenant, jti.as_str())
        );
        assert_eq!(record.revoked_at.is_some(), jti == "a3", "{jti}");
    }
}

async fn access_tokens_are_revoked_by_their_code_within_the_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    // Made once: `token` reads the clock, which may tick between two calls.
    let t1 = token(&a, &alice, "t1", Some("c1"));
    for record in [
        t1.clone(),
        token(&a, &alice, "t2", Some("c1")),
        token(&a, &alice, "t3", Some("c2")),
        token(&a, &alice, "t4", None),
    ] {
        store
            .artifacts
            .record_access_token(a.id, &record)
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .artifacts
            .record_access_token(a.id, &token(&a, &alice, "t1", None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.artifacts.access_token(a.id, "t1").await.unwrap(),
        Some(t1)
    );
    assert_eq!(
        store.artifacts.access_token(b.id, "t1").await.unwrap(),
        None
    );
    let at = Timestamp::now();
    assert_eq!(
        store
            .artifacts
            .revoke_tokens_of_code(b.id, "c1", at)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .artifacts
            .revoke_tokens_of_code(a.id, "c1", at)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .artifacts
            .revoke_tokens_of_code(a.id, "c1", at)
            .await
            .unwrap(),
        0,
        "already revoked"
    );
    assert_eq!(
        store
            .artifacts
            .access_token(a.id, "t2")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(at)
    );
    assert_eq!(
        store
            .artifacts
            .access_token(a.id, "t3")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
}

async fn browser_sessions_create_save_load_expire_and_delete(store: &Store) {
    let now = Timestamp::now();
    let record = BrowserSessionRecord {
        id_hash: "h1".into(),
        data: r#"{"csrf":"x"}"#.into(),
        expires_at: now.plus_secs(60),
    };
    store.browser_sessions.create(&record).await.unwrap();
    assert!(matches!(
        store.browser_sessions.create(&record).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.browser_sessions.load("h1", now).await.unwrap(),
        Some(record.clone())
    );
    let saved = BrowserSessionRecord {
        data: r#"{"csrf":"y"}"#.into(),
        ..record.clone()
    };
    store.browser_sessions.save(&saved).await.unwrap();
    assert_eq!(
        store.browser_sessions.load("h1", now).await.unwrap(),
        Some(saved)
    );
    assert_eq!(
        store
            .browser_sessions
            .load("h1", now.plus_secs(61))
            .await
            .unwrap(),
        None,
        "expired"
    );
    store.browser_sessions.delete("h1").await.unwrap();
    assert_eq!(store.browser_sessions.load("h1", now).await.unwrap(), None);
    let upserted = BrowserSessionRecord {
        id_hash: "h2".into(),
        ..record
    };
    store.browser_sessions.save(&upserted).await.unwrap();
    assert!(
        store
            .browser_sessions
            .load("h2", now)
            .await
            .unwrap()
            .is_some(),
        "save creates when missing"
    );
}

async fn purge_removes_only_expired_rows_a_bounded_batch_at_a_time(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let bob = user(store, &b, "bob@example.com").await;
    // Everything has expired or not by the purge's clock, half an hour ahead, but nothing has by
    // the real one: a server's own expiry sweep (MongoDB's TTL monitor) cannot interfere.
    let now = Timestamp::now();
    let purge_at = now.plus_secs(1800);
    let (past, future) = (now.plus_secs(600), now.plus_secs(7200));
    store
        .artifacts
        .put_code(a.id, &code(&a, &alice, "old-a", past))
        .await
        .unwrap();
    store
        .artifacts
        .put_code(b.id, &code(&b, &bob, "old-b", past))
        .await
        .unwrap();
    store
        .artifacts
        .put_code(a.id, &code(&a, &alice, "live-a", future))
        .await
        .unwrap();
    store
        .artifacts
        .put_flow(b.id, &flow(&b, "old-flow", past))
        .await
        .unwrap();
    for (id, expires_at) in [("old", past), ("live", future)] {
        let record = BrowserSessionRecord {
            id_hash: id.into(),
            data: "{}".into(),
            expires_at,
        };
        store.browser_sessions.create(&record).await.unwrap();
    }
    for (tenant, who, jti, expires_at) in [
        (&a, &alice, "old-token", past),
        (&a, &alice, "live-token", future),
    ] {
        let mut record = token(tenant, who, jti, None);
        record.expires_at = expires_at;
        store
            .artifacts
            .record_access_token(tenant.id, &record)
            .await
            .unwrap();
    }
    let mut old_session = session(&b, &bob, "old-session");
    old_session.expires_at = past;
    store.sessions.create(b.id, &old_session).await.unwrap();
    store
        .sessions
        .create(a.id, &session(&a, &alice, "live-session"))
        .await
        .unwrap();
    assert_eq!(
        store.artifacts.purge_expired(purge_at, 1000).await.unwrap(),
        4,
        "expired codes, flows and token records across all tenants"
    );
    assert_eq!(
        store
            .artifacts
            .access_token(a.id, "old-token")
            .await
            .unwrap(),
        None
    );
    assert!(store
        .artifacts
        .access_token(a.id, "live-token")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.sessions.purge_expired(purge_at, 1000).await.unwrap(),
        1
    );
    assert_eq!(store.sessions.get(b.id, "old-session").await.unwrap(), None);
    assert!(store
        .sessions
        .get(a.id, "live-session")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .browser_sessions
            .purge_expired(purge_at, 1000)
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store
            .artifacts
            .redeem_code(a.id, "live-a", now)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    assert!(matches!(
        store
            .artifacts
            .redeem_code(a.id, "old-a", now)
            .await
            .unwrap(),
        Redemption::Unknown
    ));
    assert!(store
        .browser_sessions
        .load("live", now)
        .await
        .unwrap()
        .is_some());
    for i in 0..5 {
        store
            .artifacts
            .put_code(a.id, &code(&a, &alice, &format!("batch-{i}"), past))
            .await
            .unwrap();
    }
    assert_eq!(
        store.artifacts.purge_expired(purge_at, 2).await.unwrap(),
        2,
        "bounded per kind and run"
    );
    let mut left = 0;
    for i in 0..5 {
        let redemption = store
            .artifacts
            .redeem_code(a.id, &format!("batch-{i}"), now)
            .await
            .unwrap();
        if !matches!(redemption, Redemption::Unknown) {
            left += 1;
        }
    }
    assert_eq!(left, 3, "exactly the purged ones are gone");
}

async fn refresh_tokens_are_listed_a_page_at_a_time_with_their_state_within_their_tenant(
    store: &Store,
) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let (alice, bob) = (
        user(store, &a, "alice@example.com").await,
        user(store, &b, "bob@example.com").await,
    );
    let now = Timestamp::now();
    let mut expired = refresh(&a, &alice, "r0-expired", "f0");
    expired.expires_at = now.plus_secs(-10);
    for token in [
        refresh(&a, &alice, "r3", "f1"),
        refresh(&a, &alice, "r1", "f1"),
        refresh(&a, &alice, "r2", "f2"),
        expired,
    ] {
        store
            .artifacts
            .put_refresh_token(a.id, &token)
            .await
            .unwrap();
    }
    store
        .artifacts
        .put_refresh_token(b.id, &refresh(&b, &bob, "r9", "f9"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .artifacts
            .rotate_refresh_token(a.id, "r1", now)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    let hashes = |tokens: &[RefreshToken]| -> Vec<String> {
        tokens.iter().map(|t| t.token_hash.clone()).collect()
    };
    let first = store
        .artifacts
        .refresh_tokens(a.id, now, None, 2)
        .await
        .unwrap();
    assert_eq!(
        hashes(&first),
        ["r1", "r2"],
        "by hash, without the expired one"
    );
    assert!(first[0].rotated_at.is_some(), "a spent token says so");
    assert!(first[1].rotated_at.is_none());
    let rest = store
        .artifacts
        .refresh_tokens(a.id, now, Some("r2"), 2)
        .await
        .unwrap();
    assert_eq!(hashes(&rest), ["r3"]);
    assert_eq!(
        hashes(
            &store
                .artifacts
                .refresh_tokens(b.id, now, None, 10)
                .await
                .unwrap()
        ),
        ["r9"]
    );
}

async fn access_tokens_are_revoked_one_at_a_time_within_the_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    for jti in ["one", "two"] {
        store
            .artifacts
            .record_access_token(a.id, &token(&a, &alice, jti, None))
            .await
            .unwrap();
    }
    let at = Timestamp::now();
    assert!(!store
        .artifacts
        .revoke_access_token(b.id, "one", at)
        .await
        .unwrap());
    assert!(store
        .artifacts
        .revoke_access_token(a.id, "one", at)
        .await
        .unwrap());
    assert!(
        !store
            .artifacts
            .revoke_access_token(a.id, "one", at)
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(!store
        .artifacts
        .revoke_access_token(a.id, "nope", at)
        .await
        .unwrap());
    let one = store
        .artifacts
        .access_token(a.id, "one")
        .await
        .unwrap()
        .unwrap();
    let two = store
        .artifacts
        .access_token(a.id, "two")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.revoked_at, two.revoked_at), (Some(at), None));
}

async fn refresh_tokens_rotate_once_and_stay_in_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let token = refresh(&a, &alice, "rt-1", "family-1");
    store
        .artifacts
        .put_refresh_token(a.id, &token)
        .await
        .unwrap();
    assert!(matches!(
        store.artifacts.put_refresh_token(a.id, &token).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.artifacts.refresh_token(a.id, "rt-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.artifacts.refresh_token(b.id, "rt-1").await.unwrap(),
        None
    );
    let at = Timestamp::now();
    assert!(matches!(
        store
            .artifacts
            .rotate_refresh_token(b.id, "rt-1", at)
            .await
            .unwrap(),
        Redemption::Unknown
    ));
    match store
        .artifacts
        .rotate_refresh_token(a.id, "rt-1", at)
        .await
        .unwrap()
    {
        Redemption::Redeemed(got) => assert_eq!(
            got,
            RefreshToken {
                rotated_at: Some(at),
                ..token.clone()
            }
        ),
        other => panic!("expected the first rotation to win, got {other:?}"),
    }
    match store
        .artifacts
        .rotate_refresh_token(a.id, "rt-1", at)
        .await
        .unwrap()
    {
        Redemption::AlreadyUsed(spent) => {
            assert_eq!((spent.rotated_at, spent.revoked_at), (Some(at), None))
        }
        other => panic!("a second rotation must find it spent, got {other:?}"),
    }
    assert!(matches!(
        store
            .artifacts
            .rotate_refresh_token(a.id, "nope", at)
            .await
            .unwrap(),
        Redemption::Unknown
    ));
}

async fn concurrent_rotations_have_exactly_one_winner(store: &Store) {
    let a = tenant(store, "alpha").await;
    let alice = user(store, &a, "alice@example.com").await;
    store
        .artifacts
        .put_refresh_token(a.id, &refresh(&a, &alice, "raced", "family"))
        .await
        .unwrap();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .artifacts
                .rotate_refresh_token(a.id, "raced", Timestamp::now())
                .await
                .unwrap()
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Redemption::Redeemed(_) => winners += 1,
            Redemption::AlreadyUsed(_) => {}
            Redemption::Unknown => panic!("the token exists"),
        }
    }
    assert_eq!(winners, 1);
}

/// Rotations that arrive together (a store may spend them with one statement) each get the
/// outcome of their own token in their own tenant: spent once, already spent, revoked, or
/// unknown; of two requests for one token, one wins.
async fn concurrent_rotations_of_many_tokens_each_get_their_own_outcome_within_their_tenant(
    store: &Store,
) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let (alice, bob) = (
        user(store, &a, "alice@example.com").await,
        user(store, &b, "bob@example.com").await,
    );
    let artifacts = &store.artifacts;
    for n in 0..12 {
        let family = if n == 11 { "doomed" } else { "family" };
        artifacts
            .put_refresh_token(a.id, &refresh(&a, &alice, &format!("a{n}"), family))
            .await
            .unwrap();
    }
    artifacts
        .put_refresh_token(b.id, &refresh(&b, &bob, "b0", "family"))
        .await
        .unwrap();
    let before = Timestamp::now();
    assert!(matches!(
        artifacts
            .rotate_refresh_token(a.id, "a10", before)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    artifacts
        .revoke_refresh_family(a.id, "doomed", before)
        .await
        .unwrap();

    let at = Timestamp::now();
    let mut asked: Vec<(TenantId, String)> = (0..12).map(|n| (a.id, format!("a{n}"))).collect();
    asked.extend([
        (a.id, "a4".to_owned()),
        (b.id, "b0".to_owned()),
        (b.id, "a1".to_owned()),
        (a.id, "b0".to_owned()),
        (a.id, "unknown".to_owned()),
    ]);
    let outcomes = futures_util::future::join_all(
        asked
            .iter()
            .map(|(tenant, hash)| artifacts.rotate_refresh_token(*tenant, hash, at)),
    )
    .await;
    let mut a4_winners = 0;
    for ((tenant, hash), outcome) in asked.iter().zip(outcomes) {
        let outcome = outcome.unwrap();
        let owner = if hash.starts_with('a') { a.id } else { b.id };
        let token = match (&outcome, hash.as_str()) {
            (Redemption::Unknown, _) => {
                assert!(*tenant != owner || hash == "unknown", "{hash}: {outcome:?}");
                continue;
            }
            (Redemption::Redeemed(token), "a4") => {
                a4_winners += 1;
                token
            }
            (Redemption::AlreadyUsed(token), "a4") => token,
            (Redemption::AlreadyUsed(token), "a10") => {
                assert_eq!(token.rotated_at, Some(before), "a10 was spent before");
                token
            }
            (Redemption::AlreadyUsed(token), "a11") => {
                assert_eq!(token.revoked_at, Some(before), "a11 was revoked");
                token
            }
            (Redemption::Redeemed(token), _) if hash != "a10" && hash != "a11" => {
                assert_eq!(token.rotated_at, Some(at), "{hash}");
                token
            }
            _ => panic!("{hash} in the wrong tenant or state: {outcome:?}"),
        };
        assert_eq!(
            (token.tenant_id, token.token_hash.as_str()),
            (*tenant, hash.as_str())
        );
    }
    assert_eq!(a4_winners, 1, "of two rotations of one token, one wins");
    assert_eq!(
        artifacts
            .refresh_token(b.id, "b0")
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(at)
    );
}

/// The refresh grant's path: concurrent rotations through the group-commit writer, each spending
/// its token and storing its replacement (access-token record, next refresh token, event) only
/// if it won the token.
async fn rotations_in_a_batch_store_only_the_replacements_of_the_tokens_they_spent(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let (alice, bob) = (
        user(store, &a, "alice@example.com").await,
        user(store, &b, "bob@example.com").await,
    );
    let artifacts = &store.artifacts;
    for hash in ["a0", "a1", "a2", "a3"] {
        let family = if hash == "a3" { "doomed" } else { hash };
        artifacts
            .put_refresh_token(a.id, &refresh(&a, &alice, hash, family))
            .await
            .unwrap();
    }
    artifacts
        .put_refresh_token(b.id, &refresh(&b, &bob, "b0", "b0"))
        .await
        .unwrap();
    let before = Timestamp::now().plus_secs(-5);
    artifacts
        .rotate_refresh_token(a.id, "a2", before)
        .await
        .unwrap();
    artifacts
        .revoke_refresh_family(a.id, "doomed", before)
        .await
        .unwrap();

    let at = Timestamp::now();
    // (tenant, token spent, name of its replacement)
    let asked = [
        (a.id, "a0", "a0-next"),
        (a.id, "a0", "a0-again"),
        (a.id, "a1", "a1-next"),
        (a.id, "a2", "a2-next"),
        (a.id, "a3", "a3-next"),
        (a.id, "b0", "cross-tenant"),
        (a.id, "unknown", "unknown-next"),
        (b.id, "b0", "b0-next"),
    ];
    let rotation = |(tenant, hash, next): (TenantId, &str, &str)| {
        let (owner, person) = if tenant == a.id {
            (&a, &alice)
        } else {
            (&b, &bob)
        };
        let mut replacement = refresh(owner, person, next, hash);
        replacement.issued_at = at;
        Rotation {
            tenant,
            token_hash: hash.into(),
            at,
            issuance: Issuance {
                access: token(owner, person, next, None),
                refresh: Some(replacement),
            },
            event: AuditEvent::new(tenant, &format!("issued.{next}"), Outcome::Success, "x"),
        }
    };
    let writer = GroupCommit::for_store(store);
    let outcomes =
        futures_util::future::join_all(asked.iter().map(|one| writer.rotate(rotation(*one)))).await;
    let mut a0_winner = None;
    for ((tenant, hash, next), outcome) in asked.iter().zip(outcomes) {
        match (outcome.unwrap(), *hash) {
            (Redemption::Redeemed(token), "a0") => {
                assert!(a0_winner.replace(*next).is_none(), "a0 won twice");
                assert_eq!(token.rotated_at, Some(at));
            }
            (Redemption::AlreadyUsed(_), "a0") => {}
            (Redemption::Redeemed(token), "a1" | "b0") if *next != "cross-tenant" => {
                assert_eq!((token.tenant_id, token.rotated_at), (*tenant, Some(at)));
            }
            (Redemption::AlreadyUsed(token), "a2") => assert_eq!(token.rotated_at, Some(before)),
            (Redemption::AlreadyUsed(token), "a3") => assert_eq!(token.revoked_at, Some(before)),
            (Redemption::Unknown, "b0" | "unknown") => {}
            (other, _) => panic!("{next}: {other:?}"),
        }
    }
    let a0_winner = a0_winner.expect("one rotation of a0 wins");
    let a0_loser = if a0_winner == "a0-next" {
        "a0-again"
    } else {
        "a0-next"
    };

    let mut stored = Vec::new();
    for (tenant, _, next) in asked {
        let access = artifacts
            .access_token(tenant, next)
            .await
            .unwrap()
            .is_some();
        let refresh = artifacts
            .refresh_token(tenant, next)
            .await
            .unwrap()
            .is_some();
        assert_eq!(access, refresh, "{next}: its records are stored together");
        if access {
            stored.push(next);
        }
    }
    stored.sort_unstable();
    let mut expected = vec![a0_winner, "a1-next", "b0-next"];
    expected.sort_unstable();
    assert_eq!(
        stored, expected,
        "{a0_loser} and the refused are not stored"
    );
    let events = |tenant| async move {
        let mut actions: Vec<String> = store
            .audit
            .recent(tenant, None, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        actions.sort_unstable();
        actions
    };
    let mut expected_a = vec![format!("issued.{a0_winner}"), "issued.a1-next".to_owned()];
    expected_a.sort_unstable();
    assert_eq!(events(a.id).await, expected_a);
    assert_eq!(events(b.id).await, ["issued.b0-next"]);
    assert_eq!(
        artifacts
            .refresh_token(b.id, "b0")
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(at),
        "the cross-tenant rotation left b0 to its own tenant"
    );
}

async fn revoking_a_family_revokes_its_refresh_and_access_tokens(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let bob = user(store, &b, "bob@example.com").await;
    let artifacts = &store.artifacts;
    for (hash, family) in [("old", "fam"), ("new", "fam"), ("other", "fam-2")] {
        artifacts
            .put_refresh_token(a.id, &refresh(&a, &alice, hash, family))
            .await
            .unwrap();
    }
    artifacts
        .put_refresh_token(b.id, &refresh(&b, &bob, "b-token", "fam"))
        .await
        .unwrap();
    for (jti, family) in [
        ("at-1", Some("fam")),
        ("at-2", Some("fam-2")),
        ("at-3", None),
    ] {
        let mut record = token(&a, &alice, jti, None);
        record.family_id = family.map(str::to_owned);
        artifacts.record_access_token(a.id, &record).await.unwrap();
    }
    let at = Timestamp::now();
    assert_eq!(
        artifacts
            .revoke_refresh_family(a.id, "fam", at)
            .await
            .unwrap(),
        3,
        "two refresh tokens and one access token"
    );
    assert_eq!(
        artifacts
            .revoke_refresh_family(a.id, "fam", at)
            .await
            .unwrap(),
        0,
        "already revoked"
    );
    for hash in ["old", "new"] {
        let revoked = artifacts.refresh_token(a.id, hash).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at));
        assert!(!revoked.is_active(at));
    }
    match artifacts
        .rotate_refresh_token(a.id, "new", at)
        .await
        .unwrap()
    {
        Redemption::AlreadyUsed(t) => assert_eq!((t.rotated_at, t.revoked_at), (None, Some(at))),
        other => panic!("a revoked token cannot be rotated, got {other:?}"),
    }
    let untouched = |t: Option<RefreshToken>| t.unwrap().revoked_at.is_none();
    assert!(untouched(
        artifacts.refresh_token(a.id, "other").await.unwrap()
    ));
    assert!(
        untouched(artifacts.refresh_token(b.id, "b-token").await.unwrap()),
        "the same family id in another tenant is another family"
    );
    let revoked = |jti: &'static str| async move {
        artifacts
            .access_token(a.id, jti)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    };
    assert!(revoked("at-1").await);
    assert!(!revoked("at-2").await);
    assert!(!revoked("at-3").await);
}

async fn clients_are_updated_and_listed_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let mut app = client(&a, "zeta-app");
    store.clients.create(a.id, &app).await.unwrap();
    store
        .clients
        .create(a.id, &client(&a, "alpha-app"))
        .await
        .unwrap();
    app.name = "Renamed".into();
    app.previous_secret_hash = app.secret_hash.clone();
    app.previous_secret_expires_at = Some(Timestamp::from_unix(1_900_000_000));
    app.secret_hash = Some("cd".repeat(32));
    app.require_dpop_nonce = false;
    app.require_signed_request_object = false;
    app.exchange
        .audiences
        .push("https://billing.example/".into());
    app.exchange.scopes.clear();
    store.clients.update(a.id, &app).await.unwrap();
    assert_eq!(
        store.clients.by_client_id(a.id, "zeta-app").await.unwrap(),
        Some(app.clone()),
        "every setting survives the update"
    );
    assert!(
        matches!(
            store.clients.update(b.id, &app).await,
            Err(StoreError::NotFound)
        ),
        "another tenant cannot update it"
    );
    let listed: Vec<String> = store
        .clients
        .list(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, ["alpha-app", "zeta-app"]);
    assert!(store.clients.list(b.id).await.unwrap().is_empty());
}

async fn ending_a_sign_in_revokes_its_bound_tokens_only(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let bob = user(store, &b, "bob@example.com").await;
    let artifacts = &store.artifacts;
    let bound = |t: &Tenant, u: &User, hash: &str, family: &str, session: &str, bound: bool| {
        let mut token = refresh(t, u, hash, family);
        token.session_id = session.into();
        token.session_bound = bound;
        token
    };
    for token in [
        bound(&a, &alice, "online-1", "fam-online", "s1", true),
        bound(&a, &alice, "online-2", "fam-online", "s1", true),
        bound(&a, &alice, "offline", "fam-offline", "s1", false),
        bound(&a, &alice, "elsewhere", "fam-elsewhere", "s2", true),
    ] {
        artifacts.put_refresh_token(a.id, &token).await.unwrap();
    }
    artifacts
        .put_refresh_token(b.id, &bound(&b, &bob, "b", "fam-online", "s1", true))
        .await
        .unwrap();
    let mut access = token(&a, &alice, "at-online", None);
    access.family_id = Some("fam-online".into());
    artifacts.record_access_token(a.id, &access).await.unwrap();

    let at = Timestamp::now();
    assert_eq!(
        artifacts
            .revoke_session_tokens(a.id, "s1", at)
            .await
            .unwrap(),
        3,
        "two refresh tokens and an access token of the bound family"
    );
    let revoked = |tenant: &Tenant, hash: &'static str| {
        let id = tenant.id;
        async move {
            artifacts
                .refresh_token(id, hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        }
    };
    assert!(revoked(&a, "online-1").await && revoked(&a, "online-2").await);
    assert!(
        !revoked(&a, "offline").await,
        "offline access outlives the sign-in"
    );
    assert!(!revoked(&a, "elsewhere").await, "another sign-in");
    assert!(!revoked(&b, "b").await, "another tenant");
    assert!(artifacts
        .access_token(a.id, "at-online")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        artifacts
            .revoke_session_tokens(a.id, "none", at)
            .await
            .unwrap(),
        0
    );
}

async fn withdrawing_a_grant_revokes_that_persons_tokens_for_that_client_only(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let carol = user(store, &a, "carol@example.com").await;
    let bob = user(store, &b, "bob@example.com").await;
    let artifacts = &store.artifacts;
    let for_client = |t: &Tenant, u: &User, hash: &str, family: &str, client: &str| {
        let mut token = refresh(t, u, hash, family);
        token.client_id = client.into();
        token
    };
    for token in [
        for_client(&a, &alice, "r1", "fam-1", "app"),
        for_client(&a, &alice, "r2", "fam-1b", "app"),
        for_client(&a, &alice, "r-other", "fam-2", "other"),
        for_client(&a, &carol, "r-carol", "fam-3", "app"),
    ] {
        artifacts.put_refresh_token(a.id, &token).await.unwrap();
    }
    artifacts
        .put_refresh_token(b.id, &for_client(&b, &bob, "r-bob", "fam-1", "app"))
        .await
        .unwrap();
    let mut from_family = token(&a, &alice, "at-family", None);
    from_family.family_id = Some("fam-1".into());
    let mut other_client = token(&a, &alice, "at-other", None);
    other_client.client_id = "other".into();
    for access in [
        token(&a, &alice, "at-code", Some("code")),
        from_family,
        other_client,
        token(&a, &carol, "at-carol", None),
    ] {
        artifacts.record_access_token(a.id, &access).await.unwrap();
    }

    let at = Timestamp::now();
    assert_eq!(
        artifacts
            .revoke_grant(a.id, alice.id, "app", at)
            .await
            .unwrap(),
        4,
        "two refresh tokens and two access tokens"
    );
    let refresh_revoked = |tenant: &Tenant, hash: &'static str| {
        let id = tenant.id;
        async move {
            let token = artifacts.refresh_token(id, hash).await.unwrap().unwrap();
            token.revoked_at.is_some()
        }
    };
    let access_revoked = |jti: &'static str| async move {
        let token = artifacts.access_token(a.id, jti).await.unwrap().unwrap();
        token.revoked_at.is_some()
    };
    assert!(refresh_revoked(&a, "r1").await && refresh_revoked(&a, "r2").await);
    assert!(access_revoked("at-code").await && access_revoked("at-family").await);
    assert!(!refresh_revoked(&a, "r-other").await && !access_revoked("at-other").await);
    assert!(
        !refresh_revoked(&a, "r-carol").await && !access_revoked("at-carol").await,
        "another person"
    );
    assert!(!refresh_revoked(&b, "r-bob").await, "another tenant");
    assert_eq!(
        artifacts
            .revoke_grant(a.id, alice.id, "app", at)
            .await
            .unwrap(),
        0,
        "nothing left to revoke"
    );
}

async fn ephemeral_records_are_taken_once_and_swapped_by_version(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let artifacts = &store.artifacts;
    let later = Timestamp::now().plus_secs(600);
    artifacts
        .put_ephemeral(a.id, "par", "k1", r#"{"v":1}"#, later)
        .await
        .unwrap();
    assert!(matches!(
        artifacts
            .put_ephemeral(a.id, "par", "k1", "{}", later)
            .await,
        Err(StoreError::Conflict(_))
    ));
    artifacts
        .put_ephemeral(a.id, "device", "k1", "{}", later)
        .await
        .expect("kinds are separate");
    assert_eq!(
        artifacts.get_ephemeral(b.id, "par", "k1").await.unwrap(),
        None
    );
    let found = artifacts
        .get_ephemeral(a.id, "par", "k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.value.as_str(), found.version, found.expires_at),
        (r#"{"v":1}"#, 1, later)
    );

    assert!(!artifacts
        .swap_ephemeral(a.id, "par", "k1", 2, "stale")
        .await
        .unwrap());
    assert!(!artifacts
        .swap_ephemeral(b.id, "par", "k1", 1, "other tenant")
        .await
        .unwrap());
    assert!(artifacts
        .swap_ephemeral(a.id, "par", "k1", 1, r#"{"v":2}"#)
        .await
        .unwrap());
    assert!(
        !artifacts
            .swap_ephemeral(a.id, "par", "k1", 1, "again")
            .await
            .unwrap(),
        "the version moved on"
    );
    assert_eq!(
        artifacts.take_ephemeral(b.id, "par", "k1").await.unwrap(),
        None
    );
    let taken = artifacts
        .take_ephemeral(a.id, "par", "k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.value.as_str(), taken.version), (r#"{"v":2}"#, 2));
    assert_eq!(
        artifacts.take_ephemeral(a.id, "par", "k1").await.unwrap(),
        None
    );
    assert_eq!(
        artifacts.get_ephemeral(a.id, "par", "k1").await.unwrap(),
        None
    );

    let past = Timestamp::now().plus_secs(-5);
    artifacts
        .put_ephemeral(a.id, "par", "old", "{}", past)
        .await
        .unwrap();
    assert_eq!(
        artifacts.get_ephemeral(a.id, "par", "old").await.unwrap(),
        None
    );
    assert_eq!(
        artifacts.take_ephemeral(a.id, "par", "old").await.unwrap(),
        None
    );
    assert!(!artifacts
        .swap_ephemeral(a.id, "par", "old", 1, "{}")
        .await
        .unwrap());
}

async fn concurrent_takes_have_exactly_one_winner(store: &Store) {
    let a = tenant(store, "alpha").await;
    store
        .artifacts
        .put_ephemeral(a.id, "par", "raced", "{}", Timestamp::now().plus_secs(60))
        .await
        .unwrap();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .artifacts
                .take_ephemeral(a.id, "par", "raced")
                .await
                .unwrap()
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn tenants_are_updated(store: &Store) {
    let mut t = tenant(store, "acme").await;
    t.name = "Acme Corporation".into();
    t.settings.require_mfa = true;
    t.settings.allowed_factors = vec![FactorKind::Totp];
    store.tenants.update(&t).await.unwrap();
    let found = store.tenants.by_id(t.id).await.unwrap().unwrap();
    assert_eq!(found.name, "Acme Corporation");
    assert!(found.settings.require_mfa);
    assert_eq!(found.settings.allowed_factors, [FactorKind::Totp]);
    let ghost = Tenant::new(TenantSlug::parse("ghost").unwrap(), "Ghost").unwrap();
    assert!(matches!(
        store.tenants.update(&ghost).await,
        Err(StoreError::NotFound)
    ));
}

async fn users_are_updated_within_their_tenant(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let mut ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    ada.email_verified = true;
    ada.password_hash = Some("$argon2id$new".into());
    ada.name = Some("Ada L.".into());
    ada.external_id = Some("hr-0042".into());
    store.users.update(a.id, &ada).await.unwrap();
    let found = store.users.by_id(a.id, ada.id).await.unwrap().unwrap();
    assert!(found.email_verified);
    assert_eq!(found.external_id.as_deref(), Some("hr-0042"));
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(found.name.as_deref(), Some("Ada L."));
    // Taking another user's address is a conflict; the row stays as it was.
    let mut taken = found.clone();
    taken.email = grace.email.clone();
    assert!(matches!(
        store.users.update(a.id, &taken).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .users
            .by_id(a.id, ada.id)
            .await
            .unwrap()
            .unwrap()
            .email,
        ada.email
    );
    // Another tenant cannot update it.
    let mut hijack = found.clone();
    hijack.blocked = true;
    assert!(matches!(
        store.users.update(b.id, &hijack).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        !store
            .users
            .by_id(a.id, ada.id)
            .await
            .unwrap()
            .unwrap()
            .blocked
    );
}

async fn sessions_of_a_user_are_listed_and_revoked_together(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    for id in ["s1", "s2"] {
        store
            .sessions
            .create(a.id, &session(&a, &ada, id))
            .await
            .unwrap();
    }
    let mut expired = session(&a, &ada, "old");
    expired.expires_at = Timestamp::now().plus_secs(-10);
    store.sessions.create(a.id, &expired).await.unwrap();
    store
        .sessions
        .create(a.id, &session(&a, &grace, "g1"))
        .await
        .unwrap();
    let now = Timestamp::now();
    let mut listed: Vec<String> = store
        .sessions
        .of_user(a.id, ada.id, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        ["s1", "s2"],
        "active sessions only, of this user only"
    );
    assert!(store
        .sessions
        .of_user(b.id, ada.id, now)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store
            .sessions
            .revoke_all(b.id, ada.id, now)
            .await
            .unwrap()
            .is_empty(),
        "not from another tenant"
    );
    let mut revoked = store.sessions.revoke_all(a.id, ada.id, now).await.unwrap();
    revoked.sort();
    assert_eq!(revoked, ["old", "s1", "s2"]);
    assert!(store
        .sessions
        .of_user(a.id, ada.id, now)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .sessions
            .of_user(a.id, grace.id, now)
            .await
            .unwrap()
            .len(),
        1,
        "others keep theirs"
    );
    assert!(
        store
            .sessions
            .revoke_all(a.id, ada.id, now)
            .await
            .unwrap()
            .is_empty(),
        "only once"
    );
}

async fn audit_events_are_filtered_by_actor(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    for (tenant, actor) in [
        (&a, "user:1"),
        (&a, "user:2"),
        (&a, "user:1"),
        (&b, "user:1"),
    ] {
        let event = AuditEvent::new(tenant.id, "login.password", Outcome::Success, actor);
        store.audit.append(&event).await.unwrap();
    }
    let mine = store.audit.recent(a.id, Some("user:1"), 10).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine
        .iter()
        .all(|e| e.actor == "user:1" && e.tenant_id == a.id));
    assert_eq!(store.audit.recent(a.id, None, 10).await.unwrap().len(), 3);
}

fn factor(tenant: &Tenant, user: &User, id: &str, kind: FactorKind, created_at: i64) -> Factor {
    Factor {
        id: id.into(),
        tenant_id: tenant.id,
        user_id: user.id,
        kind,
        name: kind.label().into(),
        data: r#"{"last_step":0}"#.into(),
        version: 1,
        created_at: Timestamp::from_unix(created_at),
        last_used_at: None,
    }
}

async fn factors_are_added_swapped_by_version_and_removed(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    store
        .factors
        .add(a.id, &factor(&a, &ada, "f2", FactorKind::BackupCodes, 200))
        .await
        .unwrap();
    store
        .factors
        .add(a.id, &factor(&a, &ada, "f1", FactorKind::Totp, 100))
        .await
        .unwrap();
    store
        .factors
        .add(a.id, &factor(&a, &grace, "g1", FactorKind::EmailCode, 100))
        .await
        .unwrap();
    assert!(matches!(
        store
            .factors
            .add(a.id, &factor(&a, &ada, "f1", FactorKind::Totp, 300))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let listed = store.factors.of_user(a.id, ada.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f1", "f2"],
        "oldest first"
    );
    assert_eq!(listed[0], factor(&a, &ada, "f1", FactorKind::Totp, 100));
    assert!(store
        .factors
        .of_user(b.id, ada.id)
        .await
        .unwrap()
        .is_empty());

    let used = Timestamp::from_unix(1_800_000_000);
    assert!(store
        .factors
        .swap(a.id, "f1", 1, r#"{"last_step":7}"#, used)
        .await
        .unwrap());
    assert!(
        !store
            .factors
            .swap(a.id, "f1", 1, r#"{"last_step":8}"#, used)
            .await
            .unwrap(),
        "stale version"
    );
    assert!(
        !store
            .factors
            .swap(b.id, "f1", 2, r#"{"last_step":9}"#, used)
            .await
            .unwrap(),
        "other tenant"
    );
    let f1 = &store.factors.of_user(a.id, ada.id).await.unwrap()[0];
    assert_eq!((f1.version, f1.last_used_at), (2, Some(used)));
    let data: serde_json::Value = serde_json::from_str(&f1.data).unwrap();
    assert_eq!(data["last_step"], 7);

    assert!(
        !store.factors.remove(a.id, grace.id, "f1").await.unwrap(),
        "not another user's"
    );
    assert!(
        !store.factors.remove(b.id, ada.id, "f1").await.unwrap(),
        "not from another tenant"
    );
    assert!(store.factors.remove(a.id, ada.id, "f1").await.unwrap());
    assert!(!store.factors.remove(a.id, ada.id, "f1").await.unwrap());
    assert_eq!(store.factors.remove_all(b.id, ada.id).await.unwrap(), 0);
    assert_eq!(store.factors.remove_all(a.id, ada.id).await.unwrap(), 1);
    assert_eq!(
        store.factors.of_user(a.id, grace.id).await.unwrap().len(),
        1,
        "others keep theirs"
    );
}

async fn concurrent_factor_swaps_have_exactly_one_winner(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let ada = user(store, &a, "ada@example.com").await;
    store
        .factors
        .add(
            a.id,
            &factor(&a, &ada, "codes", FactorKind::BackupCodes, 100),
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .factors
                    .swap(
                        a.id,
                        "codes",
                        1,
                        &format!(r#"{{"by":{i}}}"#),
                        Timestamp::now(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1, "one code use wins");
}

fn role(name: &str, permissions: &[&str]) -> Role {
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    Role::new(name, "", &permissions).unwrap()
}

fn team(name: &str, roles: &[&str]) -> Team {
    let mut team = Team::new(name, "").unwrap();
    team.roles = roles.iter().map(|r| r.to_string()).collect();
    team
}

async fn roles_are_created_updated_and_deleted_with_their_grants(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let ada = user(store, &a, "ada@example.com").await;
    let support = role("Support", &["users:read"]);
    let billing = role("billing", &["users:*", "audit:read"]);
    store.access.create_role(a.id, &support).await.unwrap();
    store.access.create_role(a.id, &billing).await.unwrap();
    assert_eq!(
        store.access.custom_roles(a.id).await.unwrap(),
        [billing.clone(), support.clone()],
        "by name ignoring case; every field survives the round trip"
    );
    assert!(matches!(
        store.access.create_role(a.id, &role("SUPPORT", &[])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.access.custom_roles(a.id).await.unwrap().len(), 2);

    let mut helpdesk = support.clone();
    helpdesk
        .set("Helpdesk", "Answers questions", &["users:write".into()])
        .unwrap();
    store.access.update_role(a.id, &helpdesk).await.unwrap();
    let mut shouting = helpdesk.clone();
    shouting.name = "HELPDESK".into();
    store
        .access
        .update_role(a.id, &shouting)
        .await
        .expect("a role may change the case of its own name");
    store.access.update_role(a.id, &helpdesk).await.unwrap();
    let mut clash = helpdesk.clone();
    clash.name = "BILLING".into();
    assert!(matches!(
        store.access.update_role(a.id, &clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.access.update_role(a.id, &role("Ghost", &[])).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.access.custom_roles(a.id).await.unwrap(),
        [billing.clone(), helpdesk.clone()]
    );

    // Deleting a role takes its assignments to users and teams with it.
    assert!(store
        .access
        .assign_role(a.id, ada.id, &billing.id)
        .await
        .unwrap());
    assert!(store
        .access
        .assign_role(a.id, ada.id, "admin")
        .await
        .unwrap());
    store
        .access
        .create_team(a.id, &team("Ops", &["auditor", &billing.id]))
        .await
        .unwrap();
    assert!(store.access.delete_role(a.id, &billing.id).await.unwrap());
    assert!(!store.access.delete_role(a.id, &billing.id).await.unwrap());
    assert_eq!(store.users.roles(a.id, ada.id).await.unwrap(), ["admin"]);
    assert!(store
        .access
        .role_holders(a.id, &billing.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.access.teams(a.id).await.unwrap()[0].roles,
        ["auditor"]
    );
    assert_eq!(store.access.custom_roles(a.id).await.unwrap(), [helpdesk]);
}

async fn roles_are_assigned_once_and_only_to_existing_users(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    assert!(store
        .access
        .assign_role(a.id, ada.id, "admin")
        .await
        .unwrap());
    assert!(
        !store
            .access
            .assign_role(a.id, ada.id, "admin")
            .await
            .unwrap(),
        "held already"
    );
    assert!(store
        .access
        .assign_role(a.id, grace.id, "admin")
        .await
        .unwrap());
    assert!(store
        .access
        .assign_role(a.id, ada.id, "auditor")
        .await
        .unwrap());
    assert_eq!(
        store.users.roles(a.id, ada.id).await.unwrap(),
        ["admin", "auditor"]
    );
    let mut holders = store.access.role_holders(a.id, "admin").await.unwrap();
    holders.sort();
    assert_eq!(holders, [ada.id, grace.id]);
    assert!(matches!(
        store
            .access
            .assign_role(a.id, UserId::generate(), "admin")
            .await,
        Err(StoreError::NotFound)
    ));

    assert!(store
        .access
        .unassign_role(a.id, ada.id, "admin")
        .await
        .unwrap());
    assert!(
        !store
            .access
            .unassign_role(a.id, ada.id, "admin")
            .await
            .unwrap(),
        "not held any more"
    );
    assert_eq!(
        store.access.role_holders(a.id, "admin").await.unwrap(),
        [grace.id]
    );
    assert_eq!(store.users.roles(a.id, ada.id).await.unwrap(), ["auditor"]);

    // A role held through a team is not held directly.
    let devs = team("Devs", &["developer"]);
    store.access.create_team(a.id, &devs).await.unwrap();
    store
        .access
        .add_member(a.id, devs.id, ada.id)
        .await
        .unwrap();
    assert!(store
        .access
        .role_holders(a.id, "developer")
        .await
        .unwrap()
        .is_empty());
    assert!(!store
        .access
        .unassign_role(a.id, ada.id, "developer")
        .await
        .unwrap());
}

async fn teams_hold_members_and_roles(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    let mut ops = team("Ops", &["auditor", "developer"]);
    ops.description = "Keeps things running".into();
    let dev = team("dev", &[]);
    store.access.create_team(a.id, &ops).await.unwrap();
    store.access.create_team(a.id, &dev).await.unwrap();
    assert!(matches!(
        store.access.create_team(a.id, &team("OPS", &[])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.access.teams(a.id).await.unwrap(),
        [dev.clone(), ops.clone()],
        "by name ignoring case, with their roles"
    );

    assert!(store.access.add_member(a.id, ops.id, ada.id).await.unwrap());
    assert!(
        !store.access.add_member(a.id, ops.id, ada.id).await.unwrap(),
        "a member already"
    );
    assert!(store
        .access
        .add_member(a.id, ops.id, grace.id)
        .await
        .unwrap());
    assert!(store.access.add_member(a.id, dev.id, ada.id).await.unwrap());
    assert_eq!(
        store.access.members(a.id, ops.id).await.unwrap(),
        [ada.id, grace.id],
        "oldest membership first"
    );
    let mut of_ada = store.access.teams_of(a.id, ada.id).await.unwrap();
    of_ada.sort();
    let mut both = vec![ops.id, dev.id];
    both.sort();
    assert_eq!(of_ada, both);
    assert!(matches!(
        store
            .access
            .add_member(a.id, uuid::Uuid::now_v7(), ada.id)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .access
            .add_member(a.id, ops.id, UserId::generate())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.access.members(a.id, ops.id).await.unwrap().len(), 2);

    let mut renamed = ops.clone();
    renamed.rename("Operations", "On call").unwrap();
    renamed.roles = vec!["admin".into()];
    store.access.update_team(a.id, &renamed).await.unwrap();
    let mut clash = renamed.clone();
    clash.name = "DEV".into();
    assert!(matches!(
        store.access.update_team(a.id, &clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.access.update_team(a.id, &team("Ghosts", &[])).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.access.teams(a.id).await.unwrap(),
        [dev.clone(), renamed.clone()]
    );
    assert_eq!(
        store.access.members(a.id, ops.id).await.unwrap().len(),
        2,
        "an update keeps the members"
    );

    assert!(store
        .access
        .remove_member(a.id, ops.id, grace.id)
        .await
        .unwrap());
    assert!(!store
        .access
        .remove_member(a.id, ops.id, grace.id)
        .await
        .unwrap());
    assert_eq!(store.access.members(a.id, ops.id).await.unwrap(), [ada.id]);
    assert!(store
        .access
        .teams_of(a.id, grace.id)
        .await
        .unwrap()
        .is_empty());

    assert!(store.access.delete_team(a.id, ops.id).await.unwrap());
    assert!(!store.access.delete_team(a.id, ops.id).await.unwrap());
    assert!(store.access.members(a.id, ops.id).await.unwrap().is_empty());
    assert_eq!(store.access.teams_of(a.id, ada.id).await.unwrap(), [dev.id]);
    assert_eq!(store.access.teams(a.id).await.unwrap(), [dev]);
}

/// The ids of the users matching `query`, newest first.
async fn found(store: &Store, tenant: &Tenant, query: UserQuery) -> Vec<UserId> {
    store
        .users
        .search(tenant.id, &query, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect()
}

async fn users_are_searched_by_each_filter(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let mut ada = User::new(
        a.id,
        Email::parse("ada@example.com").unwrap(),
        Some("Ada Lovelace"),
    )
    .unwrap();
    ada.email_verified = true;
    store.users.create(a.id, &ada, &["auditor"]).await.unwrap();
    let mut grace = User::new(
        a.id,
        Email::parse("grace@example.com").unwrap(),
        Some("Grace Hopper"),
    )
    .unwrap();
    grace.blocked = true;
    store.users.create(a.id, &grace, &[]).await.unwrap();
    let mut linus = User::new(a.id, Email::parse("linus@kernel.example").unwrap(), None).unwrap();
    linus.deleted_at = Some(Timestamp::now());
    store.users.create(a.id, &linus, &[]).await.unwrap();
    let bob = user(store, &b, "ada-fan@example.com").await;

    store
        .factors
        .add(a.id, &factor(&a, &ada, "f-ada", FactorKind::Totp, 100))
        .await
        .unwrap();
    store
        .factors
        .add(
            a.id,
            &factor(&a, &linus, "f-linus", FactorKind::BackupCodes, 100),
        )
        .await
        .unwrap();
    let ops = team("Ops", &["developer"]);
    store.access.create_team(a.id, &ops).await.unwrap();
    store
        .access
        .add_member(a.id, ops.id, grace.id)
        .await
        .unwrap();

    let text = |t: &str| UserQuery {
        text: Some(t.into()),
        ..UserQuery::default()
    };
    assert_eq!(
        found(store, &a, UserQuery::default()).await,
        [linus.id, grace.id, ada.id],
        "newest first"
    );
    assert_eq!(found(store, &a, text("KERNEL")).await, [linus.id], "email");
    assert_eq!(found(store, &a, text("hOPPER")).await, [grace.id], "name");
    assert_eq!(
        found(store, &a, text("Example.COM")).await,
        [grace.id, ada.id]
    );
    assert!(
        found(store, &a, text("a.a")).await.is_empty(),
        "the text is matched literally"
    );
    assert!(found(store, &a, text("%")).await.is_empty());
    assert_eq!(found(store, &b, text("ada")).await, [bob.id], "tenant only");

    let blocked = |v| UserQuery {
        blocked: Some(v),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, blocked(true)).await, [grace.id]);
    assert_eq!(found(store, &a, blocked(false)).await, [linus.id, ada.id]);
    let deleted = |v| UserQuery {
        deleted: Some(v),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, deleted(true)).await, [linus.id]);
    assert_eq!(found(store, &a, deleted(false)).await, [grace.id, ada.id]);
    let mfa = |v| UserQuery {
        mfa: Some(v),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, mfa(true)).await, [ada.id]);
    assert_eq!(
        found(store, &a, mfa(false)).await,
        [linus.id, grace.id],
        "backup codes alone are no second factor"
    );
    let verified = |v| UserQuery {
        email_verified: Some(v),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, verified(true)).await, [ada.id]);
    assert_eq!(
        found(store, &a, verified(false)).await,
        [linus.id, grace.id]
    );
    let role = |r: &str| UserQuery {
        role: Some(r.into()),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, role("auditor")).await, [ada.id], "direct");
    assert_eq!(
        found(store, &a, role("developer")).await,
        [grace.id],
        "through a team"
    );
    assert!(found(store, &a, role("admin")).await.is_empty());
    store
        .access
        .assign_role(a.id, linus.id, "developer")
        .await
        .unwrap();
    assert_eq!(
        found(store, &a, role("developer")).await,
        [linus.id, grace.id]
    );
    let in_team = |t| UserQuery {
        team: Some(t),
        ..UserQuery::default()
    };
    assert_eq!(found(store, &a, in_team(ops.id)).await, [grace.id]);
    assert!(found(store, &a, in_team(uuid::Uuid::now_v7()))
        .await
        .is_empty());
    assert!(found(store, &b, in_team(ops.id)).await.is_empty());

    let all_of = UserQuery {
        text: Some("example".into()),
        blocked: Some(false),
        deleted: Some(false),
        mfa: Some(true),
        email_verified: Some(true),
        role: Some("auditor".into()),
        team: None,
    };
    assert_eq!(found(store, &a, all_of.clone()).await, [ada.id]);
    let none_of = UserQuery {
        team: Some(ops.id),
        ..all_of
    };
    assert!(
        found(store, &a, none_of).await.is_empty(),
        "every filter holds"
    );
}

async fn user_search_pages_never_skip_or_repeat_when_users_arrive(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(user(store, &a, &format!("user{i}@example.com")).await.id);
    }
    let expected: Vec<UserId> = created.iter().rev().copied().collect();
    let query = UserQuery::default();
    let first = store.users.search(a.id, &query, None, 2).await.unwrap();
    let mut seen: Vec<UserId> = first.iter().map(|u| u.id).collect();
    let mut before = first.last().map(|u| u.id);
    // Others sign up while the pages are read.
    let writer = {
        let (store, a) = (store.clone(), a.clone());
        tokio::spawn(async move {
            for i in 0..10 {
                user(&store, &a, &format!("late{i}@example.com")).await;
                tokio::task::yield_now().await;
            }
        })
    };
    while let Some(cursor) = before {
        let page = store
            .users
            .search(a.id, &query, Some(cursor), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2, "a page holds at most the limit");
        seen.extend(page.iter().map(|u| u.id));
        before = page.last().map(|u| u.id);
    }
    writer.await.unwrap();
    assert_eq!(seen, expected, "every original user once, newest first");
    assert!(
        store
            .users
            .search(a.id, &query, Some(created[0]), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is older than the first user"
    );
    assert_eq!(
        store
            .users
            .search(a.id, &query, None, 100)
            .await
            .unwrap()
            .len(),
        17
    );
}

async fn users_are_deleted_for_good_with_what_depends_on_them(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let ada = user(store, &a, "ada@example.com").await;
    let grace = user(store, &a, "grace@example.com").await;
    let ops = team("Ops", &[]);
    store.access.create_team(a.id, &ops).await.unwrap();
    for (person, tag) in [(&ada, "ada"), (&grace, "grace")] {
        store
            .factors
            .add(
                a.id,
                &factor(&a, person, &format!("f-{tag}"), FactorKind::Totp, 100),
            )
            .await
            .unwrap();
        store
            .sessions
            .create(a.id, &session(&a, person, &format!("s-{tag}")))
            .await
            .unwrap();
        store
            .consents
            .upsert(
                a.id,
                &Consent {
                    tenant_id: a.id,
                    user_id: person.id,
                    client_id: "app".into(),
                    scopes: vec!["openid".into()],
                    granted_at: Timestamp::now(),
                },
            )
            .await
            .unwrap();
        store
            .access
            .add_member(a.id, ops.id, person.id)
            .await
            .unwrap();
        store
            .access
            .assign_role(a.id, person.id, "admin")
            .await
            .unwrap();
        store
            .artifacts
            .record_access_token(a.id, &token(&a, person, &format!("at-{tag}"), None))
            .await
            .unwrap();
        store
            .artifacts
            .put_refresh_token(
                a.id,
                &refresh(&a, person, &format!("rt-{tag}"), &format!("fam-{tag}")),
            )
            .await
            .unwrap();
    }

    assert!(
        !store.users.delete(b.id, ada.id).await.unwrap(),
        "not from another tenant"
    );
    assert!(store.users.by_id(a.id, ada.id).await.unwrap().is_some());
    assert!(store.users.delete(a.id, ada.id).await.unwrap());
    assert!(!store.users.delete(a.id, ada.id).await.unwrap(), "gone");

    assert_eq!(store.users.by_id(a.id, ada.id).await.unwrap(), None);
    assert!(store.users.roles(a.id, ada.id).await.unwrap().is_empty());
    assert!(store
        .factors
        .of_user(a.id, ada.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.sessions.get(a.id, "s-ada").await.unwrap(), None);
    assert_eq!(store.consents.get(a.id, ada.id, "app").await.unwrap(), None);
    assert!(store
        .access
        .teams_of(a.id, ada.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.access.members(a.id, ops.id).await.unwrap(),
        [grace.id]
    );
    assert_eq!(
        store.access.role_holders(a.id, "admin").await.unwrap(),
        [grace.id]
    );
    assert_eq!(
        store.artifacts.access_token(a.id, "at-ada").await.unwrap(),
        None
    );
    assert!(store
        .artifacts
        .refresh_token(a.id, "rt-ada")
        .await
        .unwrap()
        .is_none());

    // Everyone else keeps theirs.
    assert!(store.users.by_id(a.id, grace.id).await.unwrap().is_some());
    assert_eq!(store.users.roles(a.id, grace.id).await.unwrap(), ["admin"]);
    assert_eq!(
        store.factors.of_user(a.id, grace.id).await.unwrap().len(),
        1
    );
    assert!(store.sessions.get(a.id, "s-grace").await.unwrap().is_some());
    assert!(store
        .consents
        .get(a.id, grace.id, "app")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.access.teams_of(a.id, grace.id).await.unwrap(),
        [ops.id]
    );
    assert!(store
        .artifacts
        .access_token(a.id, "at-grace")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .artifacts
        .refresh_token(a.id, "rt-grace")
        .await
        .unwrap()
        .is_some());

    // Nothing is left behind: the address is free again, with nothing attached.
    let again = user(store, &a, "ada@example.com").await;
    assert!(store.users.roles(a.id, again.id).await.unwrap().is_empty());
}

async fn roles_teams_and_users_of_one_tenant_are_invisible_to_another(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let ada = user(store, &a, "ada@example.com").await;
    let bob = user(store, &b, "bob@example.com").await;
    let support = role("Support", &["users:read"]);
    store.access.create_role(a.id, &support).await.unwrap();
    let ops = team("Ops", &["admin"]);
    store.access.create_team(a.id, &ops).await.unwrap();
    store.access.add_member(a.id, ops.id, ada.id).await.unwrap();
    store
        .access
        .assign_role(a.id, ada.id, "admin")
        .await
        .unwrap();

    assert!(store.access.custom_roles(b.id).await.unwrap().is_empty());
    assert!(store.access.teams(b.id).await.unwrap().is_empty());
    assert!(matches!(
        store.access.update_role(b.id, &support).await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.access.delete_role(b.id, &support.id).await.unwrap());
    assert!(matches!(
        store.access.update_team(b.id, &ops).await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.access.delete_team(b.id, ops.id).await.unwrap());
    // Names are unique per tenant only.
    store
        .access
        .create_role(b.id, &role("support", &[]))
        .await
        .unwrap();
    let b_ops = team("Ops", &[]);
    store.access.create_team(b.id, &b_ops).await.unwrap();

    assert!(matches!(
        store.access.add_member(b.id, b_ops.id, ada.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.access.add_member(b.id, ops.id, bob.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .access
        .members(b.id, b_ops.id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.access.members(b.id, ops.id).await.unwrap().is_empty());
    assert!(store
        .access
        .teams_of(b.id, ada.id)
        .await
        .unwrap()
        .is_empty());
    assert!(!store
        .access
        .remove_member(b.id, ops.id, ada.id)
        .await
        .unwrap());
    assert!(matches!(
        store.access.assign_role(b.id, ada.id, "owner").await,
        Err(StoreError::NotFound)
    ));
    assert!(!store
        .access
        .unassign_role(b.id, ada.id, "admin")
        .await
        .unwrap());
    assert!(store
        .access
        .role_holders(b.id, "admin")
        .await
        .unwrap()
        .is_empty());

    assert_eq!(found(store, &b, UserQuery::default()).await, [bob.id]);
    let by_role = UserQuery {
        role: Some("admin".into()),
        ..UserQuery::default()
    };
    assert!(found(store, &b, by_role).await.is_empty());
    assert!(!store.users.delete(b.id, ada.id).await.unwrap());

    // Tenant A's rows are as they were.
    assert_eq!(store.access.custom_roles(a.id).await.unwrap(), [support]);
    assert_eq!(store.access.members(a.id, ops.id).await.unwrap(), [ada.id]);
    assert_eq!(store.access.teams(a.id).await.unwrap(), [ops]);
    assert_eq!(store.users.roles(a.id, ada.id).await.unwrap(), ["admin"]);
}

/// The actions of the events matching `query`, newest first.
async fn audit_actions(
    store: &Store,
    tenant: &Tenant,
    query: &AuditQuery,
    before: Option<uuid::Uuid>,
    limit: u32,
) -> Vec<String> {
    store
        .audit
        .search(tenant.id, query, before, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn audit_events_are_searched_by_each_filter_a_page_at_a_time(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let t0 = 1_800_000_000;
    for (offset, action, outcome, actor, target) in [
        (
            0,
            "user.created",
            Outcome::Success,
            "user:1",
            Some("user:9"),
        ),
        (10, "user.blocked", Outcome::Failure, "cli", Some("user:9")),
        (
            20,
            "client.created",
            Outcome::Success,
            "user:1",
            Some("client:app"),
        ),
        (30, "users.exported", Outcome::Success, "user:2", None),
        (
            40,
            "user.deleted",
            Outcome::Success,
            "user:2",
            Some("user:8"),
        ),
    ] {
        let mut event = AuditEvent::new(a.id, action, outcome, actor);
        event.target = target.map(str::to_owned);
        event.at = Timestamp::from_unix(t0 + offset);
        store.audit.append(&event).await.unwrap();
    }
    let mut theirs = AuditEvent::new(b.id, "user.created", Outcome::Success, "user:1");
    theirs.target = Some("user:9".into());
    store.audit.append(&theirs).await.unwrap();

    let all = AuditQuery::default();
    assert_eq!(
        audit_actions(store, &a, &all, None, 10).await,
        [
            "user.deleted",
            "users.exported",
            "client.created",
            "user.blocked",
            "user.created"
        ]
    );
    let q = |f: fn(&mut AuditQuery)| {
        let mut query = AuditQuery::default();
        f(&mut query);
        query
    };
    assert_eq!(
        audit_actions(store, &a, &q(|q| q.actor = Some("user:1".into())), None, 10).await,
        ["client.created", "user.created"]
    );
    assert_eq!(
        audit_actions(
            store,
            &a,
            &q(|q| q.target = Some("user:9".into())),
            None,
            10
        )
        .await,
        ["user.blocked", "user.created"]
    );
    assert_eq!(
        audit_actions(
            store,
            &a,
            &q(|q| q.action = Some("user.created".into())),
            None,
            10
        )
        .await,
        ["user.created"],
        "exactly this action"
    );
    assert_eq!(
        audit_actions(store, &a, &q(|q| q.action = Some("user.".into())), None, 10).await,
        ["user.deleted", "user.blocked", "user.created"],
        "every action below user., not users.exported"
    );
    assert!(
        audit_actions(store, &a, &q(|q| q.action = Some("user".into())), None, 10)
            .await
            .is_empty(),
        "without its dot an action is not a prefix"
    );
    assert!(
        audit_actions(
            store,
            &a,
            &q(|q| q.action = Some("user.*".into())),
            None,
            10
        )
        .await
        .is_empty(),
        "no wildcards"
    );
    assert_eq!(
        audit_actions(
            store,
            &a,
            &q(|q| q.outcome = Some(Outcome::Failure)),
            None,
            10
        )
        .await,
        ["user.blocked"]
    );
    let window = AuditQuery {
        from: Some(Timestamp::from_unix(t0 + 10)),
        until: Some(Timestamp::from_unix(t0 + 40)),
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_actions(store, &a, &window, None, 10).await,
        ["users.exported", "client.created", "user.blocked"],
        "from inclusive, until exclusive"
    );
    let combined = AuditQuery {
        actor: Some("user:2".into()),
        action: Some("user.".into()),
        outcome: Some(Outcome::Success),
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_actions(store, &a, &combined, None, 10).await,
        ["user.deleted"]
    );
    let in_b = store.audit.search(b.id, &all, None, 10).await.unwrap();
    assert_eq!(in_b, [theirs], "every field survives; tenant only");

    // Pages: each continues below the last id of the previous one; events recorded meanwhile
    // never shift them.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = store.audit.search(a.id, &all, before, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        pages.push(page.iter().map(|e| e.action.clone()).collect::<Vec<_>>());
        if pages.len() == 1 {
            store
                .audit
                .append(&AuditEvent::new(a.id, "user.late", Outcome::Success, "cli"))
                .await
                .unwrap();
        }
    }
    assert_eq!(
        pages,
        [
            vec!["user.deleted", "users.exported"],
            vec!["client.created", "user.blocked"],
            vec!["user.created"],
        ]
    );
    let prefix = q(|q| q.action = Some("user.".into()));
    let first = store.audit.search(a.id, &prefix, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["user.late", "user.deleted"]
    );
    assert_eq!(
        audit_actions(store, &a, &prefix, Some(first[1].id), 2).await,
        ["user.blocked", "user.created"]
    );
}

async fn audit_purge_removes_only_old_events_a_bounded_batch_at_a_time(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let cutoff = Timestamp::from_unix(1_800_000_000);
    for (tenant, offset) in [(&a, -300), (&a, -200), (&a, -1), (&b, -100), (&b, -50)] {
        let mut old = AuditEvent::new(tenant.id, "login.password", Outcome::Success, "cli");
        old.at = cutoff.plus_secs(offset);
        store.audit.append(&old).await.unwrap();
    }
    for (tenant, offset) in [(&a, 0), (&a, 100), (&b, 5)] {
        let mut kept = AuditEvent::new(tenant.id, "login.kept", Outcome::Success, "cli");
        kept.at = cutoff.plus_secs(offset);
        store.audit.append(&kept).await.unwrap();
    }
    assert_eq!(store.audit.purge_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.audit.purge_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.audit.purge_before(cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.audit.purge_before(cutoff, 2).await.unwrap(), 0);
    let all = AuditQuery::default();
    for (tenant, left) in [(&a, 2), (&b, 1)] {
        let events = store.audit.search(tenant.id, &all, None, 10).await.unwrap();
        assert_eq!(events.len(), left);
        assert!(events
            .iter()
            .all(|e| e.action == "login.kept" && !e.at.is_before(cutoff)));
    }
}

async fn deleting_a_tenant_removes_its_rows_and_leaves_others(store: &Store) {
    let a = tenant(store, "tenant-a").await;
    let b = tenant(store, "tenant-b").await;
    let mut people = Vec::new();
    let mut teams = Vec::new();
    for t in [&a, &b] {
        let ada = user(store, t, "ada@example.com").await;
        store
            .access
            .assign_role(t.id, ada.id, "admin")
            .await
            .unwrap();
        store.clients.create(t.id, &client(t, "app")).await.unwrap();
        store
            .audit
            .append(&AuditEvent::new(
                t.id,
                "user.created",
                Outcome::Success,
                "cli",
            ))
            .await
            .unwrap();
        store
            .access
            .create_role(t.id, &role("Support", &["users:read"]))
            .await
            .unwrap();
        let ops = team("Ops", &["admin"]);
        store.access.create_team(t.id, &ops).await.unwrap();
        store.access.add_member(t.id, ops.id, ada.id).await.unwrap();
        store
            .factors
            .add(t.id, &factor(t, &ada, "f1", FactorKind::Totp, 100))
            .await
            .unwrap();
        store
            .sessions
            .create(t.id, &session(t, &ada, "s1"))
            .await
            .unwrap();
        store
            .keys
            .insert(t.id, &signing_key(t, "k1", KeyState::Active, 1_800_000_000))
            .await
            .unwrap();
        store
            .artifacts
            .put_flow(t.id, &flow(t, "flow-1", Timestamp::now().plus_secs(600)))
            .await
            .unwrap();
        store
            .artifacts
            .record_access_token(t.id, &token(t, &ada, "at-1", None))
            .await
            .unwrap();
        store
            .artifacts
            .put_refresh_token(t.id, &refresh(t, &ada, "rt-1", "fam-1"))
            .await
            .unwrap();
        store
            .artifacts
            .put_ephemeral(t.id, "par", "k", "v", Timestamp::now().plus_secs(600))
            .await
            .unwrap();
        people.push(ada);
        teams.push(ops);
    }

    assert!(store.tenants.delete(a.id).await.unwrap());
    assert!(!store.tenants.delete(a.id).await.unwrap(), "gone");
    assert!(!store.tenants.delete(TenantId::generate()).await.unwrap());

    for (t, ada, ops, present) in [
        (&a, &people[0], &teams[0], false),
        (&b, &people[1], &teams[1], true),
    ] {
        let what = if present { "kept" } else { "deleted" };
        assert_eq!(
            store.tenants.by_id(t.id).await.unwrap().is_some(),
            present,
            "{what}"
        );
        assert_eq!(
            store.tenants.by_slug(&t.slug).await.unwrap().is_some(),
            present
        );
        assert_eq!(
            store
                .users
                .by_email(t.id, "ada@example.com")
                .await
                .unwrap()
                .is_some(),
            present,
            "user {what}"
        );
        assert_eq!(
            store.users.list(t.id, None, 10).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.users.roles(t.id, ada.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.clients.list(t.id).await.unwrap().len(),
            usize::from(present),
            "clients {what}"
        );
        assert_eq!(
            store.audit.recent(t.id, None, 10).await.unwrap().len(),
            usize::from(present),
            "audit {what}"
        );
        assert_eq!(
            store.access.custom_roles(t.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.access.teams(t.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.access.members(t.id, ops.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.factors.of_user(t.id, ada.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store.sessions.get(t.id, "s1").await.unwrap().is_some(),
            present
        );
        assert_eq!(
            store.keys.list(t.id).await.unwrap().len(),
            usize::from(present)
        );
        assert_eq!(
            store
                .artifacts
                .get_flow(t.id, "flow-1")
                .await
                .unwrap()
                .is_some(),
            present
        );
        assert_eq!(
            store
                .artifacts
                .access_token(t.id, "at-1")
                .await
                .unwrap()
                .is_some(),
            present
        );
        assert_eq!(
            store
                .artifacts
                .refresh_token(t.id, "rt-1")
                .await
                .unwrap()
                .is_some(),
            present
        );
        assert_eq!(
            store
                .artifacts
                .get_ephemeral(t.id, "par", "k")
                .await
                .unwrap()
                .is_some(),
            present
        );
    }

    // The slug is free again, for a tenant that starts empty.
    let fresh = tenant(store, "tenant-a").await;
    assert!(store
        .users
        .list(fresh.id, None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn clients_keep_their_creator_logo_and_key_address_and_are_deleted_within_their_tenant(
    store: &Store,
) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let developer = user(store, &a, "dev@example.com").await;
    let mut app = client(&a, "app");
    app.created_by = Some(developer.id);
    app.logo_uri = Some("https://app.example/logo.png".into());
    app.jwks = None;
    app.jwks_uri = Some("https://app.example/.well-known/jwks.json".into());
    store.clients.create(a.id, &app).await.unwrap();
    assert_eq!(
        store.clients.by_client_id(a.id, "app").await.unwrap(),
        Some(app.clone()),
        "creator, logo and the address of its keys are stored"
    );
    assert!(
        !store.clients.delete(b.id, "app").await.unwrap(),
        "not across tenants"
    );
    assert!(store
        .clients
        .by_client_id(a.id, "app")
        .await
        .unwrap()
        .is_some());
    assert!(store.clients.delete(a.id, "app").await.unwrap());
    assert!(store
        .clients
        .by_client_id(a.id, "app")
        .await
        .unwrap()
        .is_none());
    assert!(
        !store.clients.delete(a.id, "app").await.unwrap(),
        "gone already"
    );
}

async fn consents_are_listed_per_user_and_revoked_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    let alice = user(store, &a, "alice@example.com").await;
    let bob = user(store, &a, "bob@example.com").await;
    for (who, client) in [(&alice, "zeta"), (&alice, "app"), (&bob, "app")] {
        let consent = Consent {
            tenant_id: a.id,
            user_id: who.id,
            client_id: client.into(),
            scopes: vec!["openid".into()],
            granted_at: Timestamp::from_unix(1_800_000_000),
        };
        store.consents.upsert(a.id, &consent).await.unwrap();
    }
    let listed: Vec<String> = store
        .consents
        .of_user(a.id, alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(
        listed,
        ["app", "zeta"],
        "the user's own, in client-id order"
    );
    assert!(store
        .consents
        .of_user(b.id, alice.id)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !store.consents.revoke(b.id, alice.id, "app").await.unwrap(),
        "not across tenants"
    );
    assert!(store.consents.revoke(a.id, alice.id, "app").await.unwrap());
    assert!(
        !store.consents.revoke(a.id, alice.id, "app").await.unwrap(),
        "gone already"
    );
    assert!(store
        .consents
        .get(a.id, alice.id, "app")
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .consents
            .get(a.id, bob.id, "app")
            .await
            .unwrap()
            .is_some(),
        "another user's consent stays"
    );
}

async fn overview_figures_count_sign_ins_people_and_clients_within_their_tenant(store: &Store) {
    let (a, b) = (tenant(store, "alpha").await, tenant(store, "beta").await);
    const DAY: i64 = 86_400;
    let today = Timestamp::now().unix().div_euclid(DAY);
    let at =
        |days_ago: i64, hour: i64| Timestamp::from_unix((today - days_ago) * DAY + hour * 3600);
    let event = |tenant: &Tenant, action: &str, outcome, actor: &str, when| {
        let mut e = AuditEvent::new(tenant.id, action, outcome, actor);
        e.at = when;
        e
    };
    let events = [
        event(&a, "login.succeeded", Outcome::Success, "user:1", at(0, 0)),
        event(&a, "login.succeeded", Outcome::Success, "user:2", at(0, 23)),
        event(
            &a,
            "login.password",
            Outcome::Failure,
            "anonymous",
            at(0, 1),
        ),
        event(
            &a,
            "login.second_factor",
            Outcome::Failure,
            "user:1",
            at(2, 5),
        ),
        event(&a, "login.succeeded", Outcome::Success, "user:1", at(2, 6)),
        // Neither a sign-in nor a failure: not counted.
        event(&a, "login.password", Outcome::Success, "user:1", at(2, 6)),
        event(
            &a,
            "login.second_factor",
            Outcome::Success,
            "user:1",
            at(2, 6),
        ),
        // Before the period.
        event(&a, "login.succeeded", Outcome::Success, "user:1", at(40, 0)),
        // Another tenant's.
        event(&b, "login.succeeded", Outcome::Success, "user:9", at(0, 2)),
        event(&a, "token.issued", Outcome::Success, "client:web", at(1, 0)),
        event(&a, "token.issued", Outcome::Success, "client:web", at(0, 0)),
        event(&a, "token.issued", Outcome::Success, "client:api", at(0, 0)),
        event(&a, "token.issued", Outcome::Success, "client:old", at(9, 0)),
        event(
            &b,
            "token.issued",
            Outcome::Success,
            "client:other",
            at(0, 0),
        ),
    ];
    store.audit.append_all(&events).await.unwrap();

    let figures = &store.insights;
    let days = figures
        .sign_ins_per_day(a.id, Timestamp::from_unix((today - 29) * DAY))
        .await
        .unwrap();
    let counted: Vec<(i64, u64, u64)> = days
        .iter()
        .map(|d| (today - d.day, d.succeeded, d.failed))
        .collect();
    assert_eq!(counted, [(2, 1, 1), (0, 2, 1)], "oldest first, by UTC day");

    let busiest = figures.busiest_clients(a.id, at(7, 0), 5).await.unwrap();
    let busiest: Vec<(&str, u64)> = busiest
        .iter()
        .map(|c| (c.client_id.as_str(), c.tokens))
        .collect();
    assert_eq!(busiest, [("web", 2), ("api", 1)]);
    assert_eq!(
        figures
            .busiest_clients(a.id, at(7, 0), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    let (ada, bob, cy) = (
        user(store, &a, "ada@example.com").await,
        user(store, &a, "bob@example.com").await,
        user(store, &a, "cy@example.com").await,
    );
    let other = user(store, &b, "dee@example.com").await;
    store
        .users
        .record_login(a.id, ada.id, at(1, 0))
        .await
        .unwrap();
    store
        .users
        .record_login(a.id, bob.id, at(45, 0))
        .await
        .unwrap();
    store
        .users
        .record_login(b.id, other.id, at(0, 0))
        .await
        .unwrap();
    for (user, id, kind) in [
        (&ada, "f1", FactorKind::Totp),
        (&ada, "f2", FactorKind::Passkey),
        (&ada, "f3", FactorKind::Passkey),
        (&ada, "f4", FactorKind::BackupCodes),
        (&bob, "f5", FactorKind::EmailCode),
        // Backup codes alone are no second factor.
        (&cy, "f6", FactorKind::BackupCodes),
    ] {
        store
            .factors
            .add(a.id, &factor(&a, user, id, kind, 1))
            .await
            .unwrap();
    }
    store
        .factors
        .add(b.id, &factor(&b, &other, "f7", FactorKind::Totp, 1))
        .await
        .unwrap();
    let people = figures.people(a.id, at(30, 0)).await.unwrap();
    assert_eq!(
        (people.total, people.active, people.with_second_factor),
        (3, 1, 2)
    );
    assert_eq!(
        people.by_kind,
        [
            ("email_code".to_owned(), 1),
            ("passkey".to_owned(), 1),
            ("totp".to_owned(), 1)
        ]
    );
}

/// Key rotation asks the store which keys are due instead of visiting every tenant.
async fn keys_due_for_rotation_are_found_across_tenants_in_one_query(store: &Store) {
    let (a, b, c) = (
        tenant(store, "alpha").await,
        tenant(store, "beta").await,
        tenant(store, "gamma").await,
    );
    let mut rsa = signing_key(&a, "a-rs", KeyState::Active, 500);
    rsa.alg = SigningAlg::RS256;
    for key in [
        signing_key(&a, "a-es", KeyState::Active, 100),
        rsa,
        signing_key(&a, "a-old", KeyState::Retired, 10),
        // Due, but its successor is already published.
        signing_key(&b, "b-es", KeyState::Active, 100),
        signing_key(&b, "b-next", KeyState::Next, 900),
        signing_key(&c, "c-es", KeyState::Active, 200),
    ] {
        store.keys.insert(key.tenant_id, &key).await.unwrap();
    }
    let due = |before, limit| {
        store
            .keys
            .due_for_rotation(Timestamp::from_unix(before), limit)
    };
    assert_eq!(
        due(300, 10).await.unwrap(),
        [(a.id, SigningAlg::ES256), (c.id, SigningAlg::ES256)],
        "oldest first"
    );
    assert_eq!(due(300, 1).await.unwrap(), [(a.id, SigningAlg::ES256)]);
    assert_eq!(
        due(600, 10).await.unwrap().len(),
        3,
        "the RSA key is due too"
    );
    assert!(due(50, 10).await.unwrap().is_empty());
}

/// The outbox: the group commit writes an event's webhook messages with it, one per enabled
/// endpoint of its tenant subscribed to its type, and none for events no one can subscribe to.
async fn audit_events_queue_the_webhook_messages_of_their_subscribers(store: &Store) {
    use tessera::store::group_commit::Write;
    use tessera::store::outbox::{Message, JOB};
    let (a, b) = (tenant(store, "acme").await, tenant(store, "globex").await);
    let subscribed = |t: &Tenant, events: &[&str]| {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        WebhookEndpoint::new(
            t.id,
            "https://hooks.example.com/",
            "",
            &events,
            vec![1],
            false,
            Timestamp::now(),
        )
        .unwrap()
    };
    let wanted = subscribed(&a, &["user.created", "user.deleted"]);
    let other_type = subscribed(&a, &["user.deleted"]);
    let mut disabled = subscribed(&a, &["user.created"]);
    disabled.enabled = false;
    let other_tenant = subscribed(&b, &["user.created"]);
    for e in [&wanted, &other_type, &disabled] {
        store.webhooks.create_endpoint(a.id, e).await.unwrap();
    }
    store
        .webhooks
        .create_endpoint(b.id, &other_tenant)
        .await
        .unwrap();

    let writer = GroupCommit::for_store(store);
    let created = AuditEvent::new(a.id, "user.created", Outcome::Success, "cli").target("user:1");
    let token = AuditEvent::new(a.id, "token.issued", Outcome::Success, "client:app");
    let (one, two) = tokio::join!(
        writer.write(Write::Audit(Box::new(created.clone()))),
        writer.write(Write::Audit(Box::new(token))),
    );
    one.unwrap();
    two.unwrap();
    let queued = store.jobs.pending(a.id).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].kind, JOB);
    let message: Message = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(message, Message::of_event(&wanted, &created));
    let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["data"]["id"], created.id.to_string());
    assert_eq!(body["data"]["target"], "user:1");
    assert!(store.jobs.pending(b.id).await.unwrap().is_empty());
    assert_eq!(store.audit.recent(a.id, None, 10).await.unwrap().len(), 2);
}

/// The audit event of a change and the webhook message it queues, as the use cases make them.
fn outbound(t: &Tenant, action: &str) -> Outbound {
    Outbound {
        events: vec![AuditEvent::new(t.id, action, Outcome::Success, "cli")],
        jobs: vec![job(t, "{}", Timestamp::now())],
    }
}

/// SQLite and PostgreSQL commit a change's audit events and webhook messages in the change's
/// own transaction: both are there once the call returns, and an event that cannot be written
/// undoes the change. A tenant with a database of its own hands them back (the job queue is the
/// main store's), as does a call that changed nothing.
async fn changes_commit_together_with_their_audit_events(store: &Store) {
    let t = tenant(store, "acme").await;
    let person = user(store, &t, "ada@example.com").await;
    let support = role("Support", &["users:read"]);
    let rows = outbound(&t, "role.created");
    let (event, message) = (rows.events[0].clone(), rows.jobs[0].clone());
    let (created, left) =
        audited::with_change(t.id, rows, store.access.create_role(t.id, &support)).await;
    created.unwrap();
    if matches!(t.placement, Placement::Dedicated { .. }) {
        assert_eq!(left.map(|r| r.events), Some(vec![event]));
        return;
    }
    assert!(left.is_none(), "the transaction took the rows");
    let logged = store.audit.recent(t.id, None, 10).await.unwrap();
    assert_eq!(logged.iter().map(|e| e.id).collect::<Vec<_>>(), [event.id]);
    let queued = store.jobs.pending(t.id).await.unwrap();
    assert_eq!(
        queued.iter().map(|j| j.id).collect::<Vec<_>>(),
        [message.id]
    );

    // A statement that commits by itself elsewhere (SQLite) runs in a transaction here.
    let assign = || store.access.assign_role(t.id, person.id, &support.id);
    let (assigned, left) =
        audited::with_change(t.id, outbound(&t, "role.assigned"), assign()).await;
    assert!(assigned.unwrap());
    assert!(left.is_none());
    let (again, left) = audited::with_change(t.id, outbound(&t, "role.assigned"), assign()).await;
    assert!(!again.unwrap(), "already held");
    assert!(
        left.is_some(),
        "nothing changed, so nothing is committed to audit"
    );
    assert_eq!(store.audit.recent(t.id, None, 10).await.unwrap().len(), 2);
    assert_eq!(store.jobs.pending(t.id).await.unwrap().len(), 2);

    // The same event id again cannot be stored: the change goes with it, in a multi-statement
    // transaction and in a single statement alike.
    let replayed = || Outbound {
        events: vec![event.clone()],
        jobs: Vec::new(),
    };
    let ops = team("Ops", &[]);
    let (made, _) =
        audited::with_change(t.id, replayed(), store.access.create_team(t.id, &ops)).await;
    assert!(made.is_err(), "{made:?}");
    assert!(store.access.teams(t.id).await.unwrap().is_empty());
    let unassign = store.access.unassign_role(t.id, person.id, &support.id);
    let (taken, _) = audited::with_change(t.id, replayed(), unassign).await;
    assert!(taken.is_err(), "{taken:?}");
    let held = store.users.roles(t.id, person.id).await.unwrap();
    assert!(held.contains(&support.id), "{held:?}");
    assert_eq!(store.audit.recent(t.id, None, 10).await.unwrap().len(), 2);
    assert_eq!(store.jobs.pending(t.id).await.unwrap().len(), 2);
}

/// MongoDB hands a change's audit events back, for the caller to write right after the change
/// (an idempotent follow-up: each message's id derives from its event's).
async fn changes_hand_their_audit_events_back_to_follow_them(store: &Store) {
    let t = tenant(store, "acme").await;
    let rows = outbound(&t, "role.created");
    let event = rows.events[0].clone();
    let support = role("Support", &["users:read"]);
    let (created, left) =
        audited::with_change(t.id, rows, store.access.create_role(t.id, &support)).await;
    created.unwrap();
    assert_eq!(left.map(|r| r.events), Some(vec![event]));
    assert!(store.audit.recent(t.id, None, 10).await.unwrap().is_empty());
    assert!(store.jobs.pending(t.id).await.unwrap().is_empty());
}
