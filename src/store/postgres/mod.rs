//! PostgreSQL: several Tessera processes may share one database. Tenant isolation is enforced
//! twice: every query filters by tenant, and row-level security (see
//! `migrations/postgres/0001_foundation.sql`) admits only the rows of the tenant that the
//! transaction names, so a query that forgets its filter sees nothing of another tenant.

mod batches;

crate::store::sql::access::access_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::api_keys::api_key_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::initial_tokens::initial_token_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::connections::connection_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::webhooks::webhook_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::artifacts::artifact_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::factors::factor_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::identity::identity_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::insights::insights_repo!(
    PostgresStore,
    sqlx::postgres::PgRow,
    "CAST(floor(extract(epoch FROM at) / 86400) AS BIGINT)"
);
crate::store::sql::jobs::job_repo!(PostgresStore, sqlx::postgres::PgRow);
crate::store::sql::records::records_repo!(PostgresStore, sqlx::postgres::PgRow);

use super::audited;
use super::sql::Finish;
use super::{OpenError, Ping, PoolUse, StoreError, StoreResult};
use crate::domain::{TenantId, Timestamp};
use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions},
    Connection, Postgres, Transaction,
};
use std::{
    ops::{Deref, DerefMut},
    str::FromStr,
    time::Duration,
};

/// The advisory lock of [`PostgresStore::migrate`] (any fixed number; "tessera" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;
const MIGRATION_POLL: Duration = Duration::from_millis(100);

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

    /// Creates the empty database `name` on this server, owned by this store's role (which
    /// needs `CREATEDB`): a tenant's own database.
    pub(crate) async fn create_database(&self, name: &str) -> StoreResult<()> {
        // A name cannot be a bind parameter; `name` is ours (letters, digits, `_`), quoted.
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42501") => {
                    StoreError::Unavailable(
                        "the PostgreSQL role may not create databases: grant it CREATEDB (ALTER ROLE … CREATEDB) to give tenants databases of their own".into(),
                    )
                }
                _ => e.into(),
            })?;
        Ok(())
    }

    /// Drops the database `name`, ending the sessions still connected to it.
    pub(crate) async fn drop_database(&self, name: &str) -> StoreResult<()> {
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Applies the pending migrations in `migrations/postgres`; returns how many ran.
    /// Processes starting together migrate once: one holds an advisory lock meanwhile, the
    /// others ask for it again every [`MIGRATION_POLL`]. Not sqlx's own lock: a process waiting
    /// in `pg_advisory_lock` holds a snapshot, which a `CREATE INDEX CONCURRENTLY` of the
    /// holder waits for, and PostgreSQL ends the two with "deadlock detected".
    pub async fn migrate(&self) -> Result<usize, OpenError> {
        let failed = |e: sqlx::Error| OpenError::Migrate(e.to_string());
        let before = self.applied_migrations().await;
        let mut connection = self.pool.acquire().await.map_err(failed)?;
        let mut polls: u32 = 0;
        while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .fetch_one(&mut *connection)
            .await
            .map_err(failed)?
        {
            polls += 1;
            if polls.is_multiple_of(100) {
                tracing::info!("waiting for another process's database migrations");
            }
            tokio::time::sleep(MIGRATION_POLL).await;
        }
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.set_locking(false);
        let migrated = migrator.run(&mut *connection).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *connection)
            .await;
        migrated.map_err(|e| OpenError::Migrate(e.to_string()))?;
        unlocked.map_err(failed)?;
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
    async fn tenant(&self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let mut tx = TenantTx(self.pool.begin().await?);
        tx.rescope(tenant).await?;
        Ok(tx)
    }

    /// The same as [`Self::tenant`]: every PostgreSQL call is one transaction already.
    async fn tenant_tx(&self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        self.tenant(tenant).await
    }

    /// A transaction for rows of several tenants (group commit): row-level security admits
    /// nothing until [`TenantTx::rescope`] names the tenant of the rows that follow.
    async fn batch(&self) -> Result<TenantTx, sqlx::Error> {
        Ok(TenantTx(self.pool.begin().await?))
    }

    /// A transaction of the housekeeping job, which may read and delete (only) expired rows of
    /// every tenant.
    async fn housekeeping(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('app.housekeeping', 'on', true)")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// A transaction of one tenant: every repository call on PostgreSQL runs in one, so row-level
/// security applies to each statement. `set_config(…, true)` is `SET LOCAL` with a bound
/// parameter: it ends with the transaction, so a pooled connection never carries one tenant's
/// setting into another's query.
// (Not sent with the BEGIN in one round trip: sqlx cannot roll back a BEGIN whose request was
// dropped before it answered, and that connection would keep the tenant's setting.)
pub struct TenantTx(Transaction<'static, Postgres>);

impl TenantTx {
    /// Points row-level security at `tenant` for the statements that follow: a batch of rows of
    /// several tenants (group commit) sets each row's tenant before its rows.
    async fn rescope(&mut self, tenant: TenantId) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }
}

impl PostgresStore {
    /// Deletes at most `limit` rows of `table` whose time `column` is before `before`, in a
    /// housekeeping transaction. Both names are always our own constants, never input.
    async fn purge(
        &self,
        table: &'static str,
        column: &'static str,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2)"
        );
        let mut tx = self.housekeeping().await?;
        let done = sqlx::query(&sql)
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

impl Finish for TenantTx {
    /// Row-level security admits the waiting rows only when they are the tenant's.
    async fn finish(mut self) -> Result<(), sqlx::Error> {
        if let Some(rows) = audited::take() {
            batches::insert_outbound(&mut self, &rows).await?;
        }
        self.commit().await
    }

    async fn finish_unchanged(self) -> Result<(), sqlx::Error> {
        self.commit().await
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
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
            .map_err(StoreError::from)
    }

    fn pool_use(&self) -> Option<PoolUse> {
        Some(PoolUse::of(&self.pool))
    }
}
