//! PostgreSQL: several Tessera processes may share one database. Tenant isolation is enforced
//! twice: every query filters by tenant, and row-level security (see
//! `migrations/postgres/0001_foundation.sql`) admits only the rows of the tenant that the
//! transaction names, so a query that forgets its filter sees nothing of another tenant.

mod access;
mod artifacts;
mod factors;
mod identity;
mod records;

use super::sql::unavailable;
use super::{OpenError, Ping, StoreResult};
use crate::domain::{TenantId, Timestamp};
use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions},
    Connection, Postgres, Transaction,
};
use std::{str::FromStr, time::Duration};
use time::OffsetDateTime;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and checks that the role is subject to row-level security.
    pub async fn open(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            OpenError::Connect(
                "the PostgreSQL database",
                "STORAGE_POSTGRESQL_URL".into(),
                e.to_string(),
            )
        })?;
        let place = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default database)")
        );
        // One connection first, so a refusal reports its cause rather than a pool timeout.
        let first = tokio::time::timeout(acquire_timeout, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                "no answer within the timeout (STORAGE_POSTGRESQL_TIMEOUT_SECS)".to_string()
            })
            .and_then(|connected| connected.map_err(|e| e.to_string()));
        if let Err(why) = first {
            return Err(OpenError::Connect("the PostgreSQL database", place, why));
        }
        // sqlx's ping before each pooled query stays: without it, requests dropped mid-query
        // (clients that hang up under load) left connections inside a transaction, and the next
        // request on one waited on its locks (seen with bench/run.sh --postgres).
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::Connect("the PostgreSQL database", place, e.to_string()))?;
        let (role, bypasses): (String, bool) = sqlx::query_as(
            "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| OpenError::Migrate(e.to_string()))?;
        if bypasses {
            return Err(OpenError::BypassesRowSecurity(role));
        }
        Ok(Self { pool })
    }

    /// Applies the pending migrations in `migrations/postgres`; returns how many ran. sqlx
    /// holds an advisory lock meanwhile, so processes starting together migrate once.
    pub async fn migrate(&self) -> Result<usize, OpenError> {
        let before = self.applied_migrations().await;
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| OpenError::Migrate(e.to_string()))?;
        Ok(self.applied_migrations().await.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> usize {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map(|n| n as usize)
            .unwrap_or(0)
    }

    /// A transaction in which row-level security admits only `tenant`'s rows.
    /// `set_config(…, true)` is `SET LOCAL` with a bound parameter: it ends with the transaction,
    /// so a pooled connection never carries one tenant's setting into another's query.
    // (Not sent with the BEGIN in one round trip: sqlx cannot roll back a BEGIN whose request was
    // dropped before it answered, and that connection would keep the tenant's setting.)
    async fn scoped(&self, tenant: TenantId) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        rescope(&mut tx, tenant).await?;
        Ok(tx)
    }

    /// A transaction of the housekeeping job, which may read and delete (only) expired rows of
    /// every tenant.
    async fn housekeeping(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT set_config('app.housekeeping', 'on', true)")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        Ok(tx)
    }
}

/// Points the transaction's row-level security at `tenant`, for the statements that follow:
/// a batch of rows of several tenants (group commit) sets each row's tenant before its row.
async fn rescope(tx: &mut Transaction<'static, Postgres>, tenant: TenantId) -> StoreResult<()> {
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// `rows` grouped by their tenant, for batches that set each tenant once (see [`rescope`]).
fn by_tenant<T>(rows: &[T], tenant: impl Fn(&T) -> TenantId) -> Vec<(TenantId, Vec<&T>)> {
    let mut groups: Vec<(TenantId, Vec<&T>)> = Vec::new();
    for row in rows {
        let id = tenant(row);
        match groups.iter_mut().find(|(t, _)| *t == id) {
            Some((_, group)) => group.push(row),
            None => groups.push((id, vec![row])),
        }
    }
    groups
}

#[async_trait]
impl Ping for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

/// Deletes at most `limit` rows of `table` whose `expires_at` is before `before`, in a
/// housekeeping transaction. `table` is always one of our own constant names, never input.
async fn purge(
    store: &PostgresStore,
    table: &'static str,
    before: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    purge_where(store, table, "expires_at", before, limit).await
}

/// Deletes at most `limit` rows of `table` whose time `column` is before `before`, in a
/// housekeeping transaction. Both names are always our own constants, never input.
async fn purge_where(
    store: &PostgresStore,
    table: &'static str,
    column: &'static str,
    before: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2)"
    );
    let mut tx = store.housekeeping().await?;
    let done = sqlx::query(&sql)
        .bind(at(before))
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(done.rows_affected())
}

/// Timestamps past the year 9999 (e.g. a saturated "never") are stored as the last second of it.
fn at(t: Timestamp) -> OffsetDateTime {
    const YEAR_9999_END: i64 = 253_402_300_799;
    OffsetDateTime::from_unix_timestamp(t.unix().clamp(0, YEAR_9999_END))
        .expect("clamped into the supported range")
}

fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_unix(t.unix_timestamp())
}
