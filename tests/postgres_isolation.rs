//! PostgreSQL's second line of tenant isolation: row-level security. These tests talk SQL to
//! the database directly, as the application's own role, the way a query that forgot its tenant
//! filter (or an injected one) would.
#![cfg(feature = "ssr")]

mod common;

use common::backends::{self, Provisioned, POSTGRES_APP_ROLE};
use sqlx::{postgres::PgPoolOptions, Connection, PgConnection, Row};
use std::collections::HashMap;
use tessera::domain::{Email, LoginFlow, Tenant, TenantSlug, Timestamp, User};
use tessera::store::{postgres::PostgresStore, Access, OpenError, Store};

struct Fixture {
    store: Store,
    url: String,
    alpha: Tenant,
    beta: Tenant,
    _guard: Box<dyn std::any::Any + Send>,
}

/// A migrated database with a user and a login flow in each of the tenants alpha and beta.
async fn fixture() -> Fixture {
    let Provisioned { vars, guard } = backends::provision("postgresql").await;
    let vars: HashMap<&str, String> = vars.into_iter().collect();
    let config = tessera::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let store = tessera::store::open(&config, &backends::test_key(), Access::Tool, true)
        .await
        .expect("storage opens");
    let mut tenants = Vec::new();
    for slug in ["alpha", "beta"] {
        let tenant = Tenant::new(TenantSlug::parse(slug).unwrap(), slug).unwrap();
        store.tenants.create(&tenant).await.unwrap();
        let email = Email::parse(&format!("someone@{slug}.example")).unwrap();
        let user = User::new(tenant.id, email, None).unwrap();
        store.users.create(tenant.id, &user, &[]).await.unwrap();
        let now = Timestamp::now();
        let flow = LoginFlow {
            id: format!("flow-{slug}"),
            tenant_id: tenant.id,
            binding_hash: "b".repeat(64),
            request: None,
            step: tessera::domain::FlowStep::Identify,
            denied: false,
            return_to: None,
            upstream: None,
            created_at: now,
            expires_at: now.plus_secs(600),
        };
        store.artifacts.put_flow(tenant.id, &flow).await.unwrap();
        tenants.push(tenant);
    }
    let beta = tenants.pop().unwrap();
    let alpha = tenants.pop().unwrap();
    Fixture {
        store,
        url: vars["STORAGE_POSTGRESQL_URL"].clone(),
        alpha,
        beta,
        _guard: guard,
    }
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

async fn set(conn: &mut PgConnection, name: &str, value: &str) {
    sqlx::query("SELECT set_config($1, $2, true)")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_query_that_forgets_its_tenant_filter_sees_nothing_of_another_tenant() {
    let f = fixture().await;
    let mut conn = PgConnection::connect(&f.url).await.unwrap();

    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM users").await,
        0,
        "no tenant named: no rows at all"
    );

    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, "app.tenant_id", &f.alpha.id.to_string()).await;
    let tenants: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT tenant_id FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, [f.alpha.id.as_uuid()], "only alpha's rows");
    let asked_for_beta: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE tenant_id = $1")
        .bind(f.beta.id.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        asked_for_beta, 0,
        "even when asking for beta's rows by tenant"
    );
    assert_eq!(count(&mut tx, "SELECT count(*) FROM login_flows").await, 1);
    let updated = sqlx::query("UPDATE users SET name = 'taken over' WHERE tenant_id = $1")
        .bind(f.beta.id.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0, "beta's rows cannot be updated");
    let deleted = sqlx::query("DELETE FROM login_flows WHERE id = 'flow-beta'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 0, "beta's rows cannot be deleted");
    let planted = sqlx::query(
        "INSERT INTO login_flows (tenant_id, id, data, expires_at) VALUES ($1, 'planted', '{}', now())",
    )
    .bind(f.beta.id.as_uuid())
    .execute(&mut *tx)
    .await;
    assert!(planted.is_err(), "a row for beta cannot be written");
    tx.rollback().await.unwrap();

    let beta_user = f
        .store
        .users
        .by_email(f.beta.id, "someone@beta.example")
        .await
        .unwrap()
        .expect("beta's user is intact");
    assert_eq!(beta_user.name, None);
    assert!(f
        .store
        .artifacts
        .get_flow(f.beta.id, "flow-beta")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_tenant_setting_does_not_outlive_its_transaction() {
    let f = fixture().await;
    // One connection, as a pool hands the same connection to the next request.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&f.url)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    set(&mut tx, "app.tenant_id", &f.alpha.id.to_string()).await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM users").await, 1);
    tx.commit().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn housekeeping_may_read_and_delete_expired_artifacts_but_not_change_them() {
    let f = fixture().await;
    let mut conn = PgConnection::connect(&f.url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, "app.housekeeping", "on").await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM login_flows").await,
        2,
        "every tenant's flows"
    );
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM users").await,
        0,
        "but no users"
    );
    let changed = sqlx::query("UPDATE login_flows SET expires_at = now()")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 0);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn every_tenant_scoped_table_forces_row_level_security() {
    let f = fixture().await;
    let mut conn = PgConnection::connect(&f.url).await.unwrap();
    let rows = sqlx::query(
        "SELECT c.relname::text AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (
             SELECT 1 FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(rows.len() >= 10, "the tenant-scoped tables: {}", rows.len());
    for row in rows {
        let name: String = row.get("name");
        assert!(
            row.get::<bool, _>("enabled") && row.get::<bool, _>("forced"),
            "{name} must enable and force row-level security"
        );
    }
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(role, POSTGRES_APP_ROLE);
}

#[tokio::test]
async fn a_role_that_bypasses_row_level_security_is_refused() {
    let f = fixture().await;
    let database = url::Url::parse(&f.url).unwrap().path().to_string();
    let mut superuser = url::Url::parse(&backends::postgres_admin_url()).unwrap();
    superuser.set_path(&database);
    let refused =
        PostgresStore::open(superuser.as_str(), 1, std::time::Duration::from_secs(5)).await;
    match refused {
        Err(OpenError::BypassesRowSecurity(role)) => assert_eq!(role, superuser.username()),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a superuser connection was accepted"),
    }
}
