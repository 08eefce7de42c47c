//! Database-per-tenant mode on each backend: a tenant placed in a database of its own keeps
//! its data there (the main store holds its registry row alone), loses the database with the
//! tenant, moves between the main store and its own database with its data, and open
//! databases stay within their bound.
#![cfg(feature = "ssr")]

mod common;

use common::{backends, refresh, TestServer};
use tessera::admin::{self, users::NewUser, Actor};
use tessera::domain::{
    ClaimMapping, Connection, LinkedIdentity, Placement, Preset, Protocol, Tenant, TenantId,
    Timestamp, User, WebhookEndpoint,
};
use tessera::state::AppState;
use tessera::store::outbox::Message;
use tessera::store::placement::{Moved, Placements};
use tessera::store::Store;

async fn server(
    backend: &str,
    extra: Vec<(&'static str, String)>,
) -> (TestServer, Vec<(&'static str, String)>) {
    let storage = backends::fresh(backend).await;
    let vars = storage.vars.clone();
    (TestServer::start_on(storage, None, extra).await, vars)
}

fn placements(server: &TestServer) -> &Placements {
    server.state.store.placements.as_deref().unwrap()
}

async fn tenant(state: &AppState, slug: &str, placement: Placement) -> Tenant {
    admin::tenants::create_placed(state, &Actor::Cli, slug, "Tenant", placement)
        .await
        .unwrap()
}

/// Moves the tenant `acme`; `None` when it is there already.
async fn relocate(
    state: &AppState,
    to: Placement,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Option<Moved> {
    admin::tenants::relocate(state, &Actor::Cli, "acme", to, progress)
        .await
        .unwrap()
}

async fn person(state: &AppState, tenant: &Tenant, email: &str) {
    let new = NewUser {
        email,
        name: Some("Pat"),
        password: Some("a long enough password 1".into()),
        admin: false,
    };
    admin::users::create(state, &Actor::Cli, tenant, new)
        .await
        .unwrap();
}

const HOOK: &str = "https://hooks.example.com/acme";

/// What an endpoint's owner set, and its sealed secret.
fn settings(e: &WebhookEndpoint) -> (uuid::Uuid, String, Vec<String>, Vec<u8>, bool) {
    (
        e.id,
        e.url.clone(),
        e.events.clone(),
        e.secret.clone(),
        e.enabled,
    )
}

/// Whether `store`'s job queue holds a message for `endpoint` about `user`.
async fn queued_for(
    store: &Store,
    tenant: TenantId,
    endpoint: &WebhookEndpoint,
    user: &str,
) -> bool {
    store.jobs.pending(tenant).await.unwrap().iter().any(|job| {
        let message: Message = serde_json::from_str(&job.payload).unwrap();
        message.endpoint_id == endpoint.id && message.body.contains(user)
    })
}

async fn person_of(store: &Store, tenant: TenantId, email: &str) -> User {
    store.users.by_email(tenant, email).await.unwrap().unwrap()
}

fn connection(tenant: &Tenant, slug: &str) -> Connection {
    let now = Timestamp::now();
    Connection {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        slug: slug.into(),
        name: slug.into(),
        preset: Preset::Oidc,
        protocol: Protocol::Oidc {
            issuer: format!("https://{slug}.example"),
        },
        client_id: "tessera".into(),
        client_secret: Some("c2VhbGVk".into()),
        scopes: vec!["openid".into()],
        claims: ClaimMapping::default(),
        domains: vec![format!("{slug}.example")],
        provisioning: true,
        enabled: true,
        created_at: now,
        updated_at: now,
    }
}

/// Links `person` to the upstream identity `subject` of `connection`.
async fn link(store: &Store, connection: &Connection, person: &User, subject: &str) {
    let link = LinkedIdentity {
        tenant_id: person.tenant_id,
        connection_id: connection.id,
        subject: subject.into(),
        user_id: person.id,
        email: Some(person.email.as_str().into()),
        created_at: Timestamp::now(),
        last_used_at: None,
    };
    store
        .connections
        .link(person.tenant_id, &link)
        .await
        .unwrap();
}

async fn links_of(store: &Store, tenant: TenantId, email: &str) -> Vec<LinkedIdentity> {
    let person = person_of(store, tenant, email).await;
    store.connections.links_of(tenant, person.id).await.unwrap()
}

async fn has_person(store: &Store, tenant: TenantId, email: &str) -> bool {
    store.users.by_email(tenant, email).await.unwrap().is_some()
}

/// Whether the tenant's own database exists, asked of the backend itself.
async fn database_exists(backend: &str, vars: &[(&'static str, String)], tenant: TenantId) -> bool {
    let var = |name: &str| vars.iter().find(|(k, _)| *k == name).unwrap().1.clone();
    let id = tenant.as_uuid().simple().to_string();
    match backend {
        "sqlite" => std::path::Path::new(&var("STORAGE_SQLITE_PATH"))
            .parent()
            .unwrap()
            .join("tenants")
            .join(format!("{tenant}.db"))
            .exists(),
        "postgresql" => {
            let admin = sqlx::PgPool::connect(&backends::postgres_admin_url())
                .await
                .unwrap();
            let found: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE '%' || $1")
                    .bind(&id)
                    .fetch_one(&admin)
                    .await
                    .unwrap();
            found == 1
        }
        "mongodb" => {
            let client = ::mongodb::Client::with_uri_str(backends::mongodb_uri())
                .await
                .unwrap();
            // A MongoDB database exists once something is written to it.
            let names = client.list_database_names().await.unwrap();
            names.iter().any(|n| n.ends_with(&id))
        }
        other => panic!("{other}"),
    }
}

async fn a_tenant_of_its_own_keeps_its_data_apart_and_takes_its_database_with_it(backend: &str) {
    let (server, vars) = server(backend, Vec::new()).await;
    let acme = tenant(&server.state, "acme", Placement::NEW_DATABASE).await;
    let Placement::Dedicated {
        database: Some(sealed),
    } = &acme.placement
    else {
        panic!(
            "the registry records the new database: {:?}",
            acme.placement
        );
    };
    let id = acme.id.as_uuid().simple().to_string();
    assert!(
        !sealed.contains(&id) && !sealed.contains("tenants"),
        "the settings are sealed"
    );
    person(&server.state, &acme, "pat@acme.test").await;
    let shared = tenant(&server.state, "shared", Placement::Shared).await;
    person(&server.state, &shared, "pat@shared.test").await;

    let store = &server.state.store;
    let main = placements(&server).main();
    assert!(has_person(store, acme.id, "pat@acme.test").await);
    assert!(
        !has_person(main, acme.id, "pat@acme.test").await,
        "the main database holds none of a dedicated tenant's people"
    );
    assert!(has_person(main, shared.id, "pat@shared.test").await);
    assert!(!store.keys.list(acme.id).await.unwrap().is_empty());
    assert!(main.keys.list(acme.id).await.unwrap().is_empty());
    assert!(database_exists(backend, &vars, acme.id).await);

    admin::platform::delete(&server.state, &Actor::Cli, "acme", "acme")
        .await
        .unwrap();
    assert!(
        !database_exists(backend, &vars, acme.id).await,
        "deleting the tenant drops its database"
    );
    assert!(store.tenants.by_id(acme.id).await.unwrap().is_none());
    assert!(has_person(store, shared.id, "pat@shared.test").await);
}

async fn a_tenant_moves_to_its_own_database_and_back_with_its_data(backend: &str) {
    let (server, vars) = server(backend, Vec::new()).await;
    let acme = tenant(&server.state, "acme", Placement::Shared).await;
    for n in 0..3 {
        person(&server.state, &acme, &format!("p{n}@acme.test")).await;
    }
    let store = &server.state.store;
    let main = placements(&server).main();
    let keys = store.keys.list(acme.id).await.unwrap();
    let p2 = person_of(store, acme.id, "p2@acme.test").await;
    let (live, spent) = (
        refresh(&acme, &p2, "live", "f1"),
        refresh(&acme, &p2, "spent", "f2"),
    );
    for token in [&live, &spent] {
        store
            .artifacts
            .put_refresh_token(acme.id, token)
            .await
            .unwrap();
    }
    let now = Timestamp::now();
    store
        .artifacts
        .rotate_refresh_token(acme.id, "spent", now)
        .await
        .unwrap();
    let make_key = |name: &'static str| {
        let (state, acme) = (&server.state, &acme);
        async move {
            admin::api_keys::create(state, &Actor::Cli, acme, name, &["users:read".into()], 30)
                .await
                .expect("API key")
                .key
        }
    };
    let (bot, sync) = (make_key("Bot").await, make_key("Sync").await);
    let make_token = |name: &'static str| {
        let (state, acme) = (&server.state, &acme);
        async move {
            admin::initial_tokens::create(state, &Actor::Cli, acme, name, 5, 7)
                .await
                .expect("initial access token")
        }
    };
    let (partners, vendors) = (make_token("Partners").await, make_token("Vendors").await);
    let (corp, gone) = (connection(&acme, "corp"), connection(&acme, "gone"));
    for c in [&corp, &gone] {
        store.connections.create(acme.id, c).await.unwrap();
    }
    for (n, through) in [(0, &corp), (1, &corp), (2, &gone)] {
        let p = person_of(store, acme.id, &format!("p{n}@acme.test")).await;
        link(store, through, &p, &format!("s-p{n}")).await;
    }
    let crm = ["user.created".to_string()];
    let hook = admin::webhooks::create(&server.state, &Actor::Cli, &acme, HOOK, "CRM", &crm)
        .await
        .expect("webhook endpoint")
        .endpoint;
    let events = store.audit.recent(acme.id, None, 100).await.unwrap().len();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |line: &str| lines.lock().unwrap().push(line.to_owned());
    // The tenant serves during the first copy: what changes then arrives too.
    let changed = std::sync::atomic::AtomicBool::new(false);
    let state = &server.state;
    let changing = |line: &str| {
        progress(line);
        if line.contains("audit events") && !changed.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    person(state, &acme, "late@acme.test").await;
                    let p0 = person_of(store, acme.id, "p0@acme.test").await;
                    assert!(store.users.delete(acme.id, p0.id).await.unwrap());
                    let mut p1 = person_of(store, acme.id, "p1@acme.test").await;
                    p1.name = Some("Renamed".into());
                    store.users.update(acme.id, &p1).await.unwrap();
                    assert!(store.api_keys.revoke(acme.id, sync.id, now).await.unwrap());
                    let spent = store
                        .initial_tokens
                        .spend(acme.id, &partners.token.hash, now);
                    assert_eq!(spent.await.unwrap().map(|t| t.uses), Some(1));
                    let revoked = store.initial_tokens.revoke(acme.id, vendors.token.id, now);
                    assert!(revoked.await.unwrap());
                    let connections = &store.connections;
                    let used = connections.record_link_use(acme.id, corp.id, "s-p1", now);
                    used.await.unwrap();
                    assert!(connections.delete(acme.id, gone.id).await.unwrap());
                    let renamed = Connection {
                        name: "Corp renamed".into(),
                        updated_at: now,
                        ..corp.clone()
                    };
                    connections.update(acme.id, &renamed).await.unwrap();
                    let late = person_of(store, acme.id, "late@acme.test").await;
                    link(store, &corp, &late, "s-late").await;
                })
            });
        }
    };

    let moved = relocate(&server.state, Placement::NEW_DATABASE, &changing)
        .await
        .expect("moved");
    assert!(changed.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!((moved.people, moved.keys), (3, keys.len()));
    assert!(moved.events >= events);
    assert!(database_exists(backend, &vars, acme.id).await);
    let placed = store.tenants.by_id(acme.id).await.unwrap().unwrap();
    assert!(placed.placement.is_dedicated());
    assert_eq!(placed.status, acme.status, "serving again");
    for email in ["p1@acme.test", "p2@acme.test", "late@acme.test"] {
        assert!(has_person(store, acme.id, email).await, "{email}");
        assert!(!has_person(main, acme.id, email).await);
    }
    assert!(
        !has_person(store, acme.id, "p0@acme.test").await,
        "deleted during the copy"
    );
    assert_eq!(moved.refresh_tokens, 2);
    let carried = store
        .artifacts
        .refresh_token(acme.id, "live")
        .await
        .unwrap();
    assert_eq!(carried.as_ref(), Some(&live), "applications stay signed in");
    let carried = store
        .artifacts
        .refresh_token(acme.id, "spent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carried.rotated_at, Some(now), "a spent token stays spent");
    assert!(main
        .artifacts
        .refresh_token(acme.id, "live")
        .await
        .unwrap()
        .is_none());
    let p1 = person_of(store, acme.id, "p1@acme.test").await;
    assert_eq!(
        p1.name.as_deref(),
        Some("Renamed"),
        "changed during the copy"
    );
    assert_eq!(store.keys.list(acme.id).await.unwrap(), keys);
    assert!(main.keys.list(acme.id).await.unwrap().is_empty());
    let api_keys = store.api_keys.list(acme.id).await.unwrap();
    let revoked = |keys: &[tessera::domain::ApiKey]| -> Vec<(String, bool)> {
        keys.iter()
            .map(|k| (k.name.clone(), k.revoked_at.is_some()))
            .collect()
    };
    assert_eq!(
        revoked(&api_keys),
        [("Sync".to_string(), true), ("Bot".to_string(), false)],
        "API keys arrive, revoked during the copy as well"
    );
    assert_eq!(api_keys[1], bot);
    assert!(main.api_keys.list(acme.id).await.unwrap().is_empty());
    let initial_tokens = store.initial_tokens.list(acme.id).await.unwrap();
    let states: Vec<_> = initial_tokens
        .iter()
        .map(|t| (t.name.as_str(), t.uses, t.revoked_at.is_some()))
        .collect();
    assert_eq!(
        states,
        [("Vendors", 0, true), ("Partners", 1, false)],
        "initial access tokens arrive, used and revoked during the copy as well"
    );
    assert_eq!(moved.initial_tokens, 2);
    assert!(main.initial_tokens.list(acme.id).await.unwrap().is_empty());
    let connections = store.connections.list(acme.id).await.unwrap();
    let names: Vec<_> = connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["Corp renamed"],
        "connections arrive, changed and deleted during the copy as well"
    );
    assert_eq!(moved.connections, 1);
    assert!(main.connections.list(acme.id).await.unwrap().is_empty());
    let p1_links = links_of(store, acme.id, "p1@acme.test").await;
    let used: Vec<_> = p1_links
        .iter()
        .map(|l| (l.subject.as_str(), l.last_used_at))
        .collect();
    assert_eq!(
        used,
        [("s-p1", Some(now))],
        "linked identities arrive, used meanwhile too"
    );
    assert!(
        links_of(store, acme.id, "p2@acme.test").await.is_empty(),
        "with their connection gone"
    );
    assert_eq!(
        links_of(store, acme.id, "late@acme.test").await.len(),
        1,
        "made meanwhile"
    );
    assert_eq!(moved.linked_identities, 2);
    // (Deliveries to the example address fail meanwhile, which the endpoint records.)
    let hooks: Vec<_> = store.webhooks.endpoints(acme.id).await.unwrap();
    assert_eq!(
        hooks.iter().map(settings).collect::<Vec<_>>(),
        [settings(&hook)],
        "webhook endpoints arrive, sealed secret and all"
    );
    assert!(main.webhooks.endpoints(acme.id).await.unwrap().is_empty());
    // A change in the tenant's own database queues its messages in the main store's queue.
    person(&server.state, &acme, "after@acme.test").await;
    let after = person_of(store, acme.id, "after@acme.test").await;
    assert!(
        queued_for(main, acme.id, &hook, &after.id.to_string()).await,
        "the user.created message of a tenant in its own database"
    );
    assert!(!lines.lock().unwrap().is_empty(), "it tells what it does");

    let again = relocate(&server.state, Placement::NEW_DATABASE, &progress).await;
    assert!(again.is_none(), "a tenant already there stays");

    let back = relocate(&server.state, Placement::Shared, &progress)
        .await
        .expect("moved back");
    assert_eq!((back.people, back.refresh_tokens), (4, 2));
    assert_eq!(
        main.artifacts.refresh_token(acme.id, "live").await.unwrap(),
        Some(live)
    );
    assert!(
        !database_exists(backend, &vars, acme.id).await,
        "the source is dropped"
    );
    assert!(!store
        .tenants
        .by_id(acme.id)
        .await
        .unwrap()
        .unwrap()
        .placement
        .is_dedicated());
    for email in ["p1@acme.test", "p2@acme.test", "late@acme.test"] {
        assert!(has_person(main, acme.id, email).await, "{email}");
    }
    assert_eq!(main.keys.list(acme.id).await.unwrap(), keys);
    assert_eq!(main.api_keys.list(acme.id).await.unwrap(), api_keys);
    assert_eq!(
        main.initial_tokens.list(acme.id).await.unwrap(),
        initial_tokens
    );
    assert_eq!(main.connections.list(acme.id).await.unwrap(), connections);
    assert_eq!(links_of(main, acme.id, "p1@acme.test").await, p1_links);
    assert_eq!(back.linked_identities, 2);
    let back_hooks = main.webhooks.endpoints(acme.id).await.unwrap();
    assert_eq!(
        back_hooks.iter().map(settings).collect::<Vec<_>>(),
        [settings(&hook)]
    );
    let moves = store
        .audit
        .recent(acme.id, Some("cli"), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "tenant.moved")
        .count();
    assert_eq!(
        moves, 2,
        "each move is audited, in the tenant's log that moved with it"
    );
}

macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $test() { super::$test("sqlite").await; })* }
        mod postgresql { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $test() { super::$test("postgresql").await; })* }
        mod mongodb { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $test() { super::$test("mongodb").await; })* }
    };
}

on_every_backend!(
    a_tenant_of_its_own_keeps_its_data_apart_and_takes_its_database_with_it,
    a_tenant_moves_to_its_own_database_and_back_with_its_data,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_databases_stay_within_their_bound_and_reopen_on_use() {
    let (server, _vars) = server(
        "sqlite",
        vec![("TESSERA_TENANT_DATABASES_OPEN", "2".into())],
    )
    .await;
    let mut tenants = Vec::new();
    for n in 0..5 {
        let tenant = tenant(&server.state, &format!("t{n}"), Placement::NEW_DATABASE).await;
        person(&server.state, &tenant, "pat@example.test").await;
        tenants.push(tenant);
    }
    for _ in 0..2 {
        for tenant in &tenants {
            let found = server
                .state
                .store
                .users
                .by_email(tenant.id, "pat@example.test")
                .await;
            assert!(found.unwrap().is_some(), "{}", tenant.slug);
            assert!(placements(&server).open_databases() <= 2);
        }
    }
}
