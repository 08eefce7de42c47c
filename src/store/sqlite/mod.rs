//! The embedded default backend: one SQLite file, WAL, foreign keys on, one writer at a time.

mod batches;
mod connections;

crate::store::sql::access::access_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::api_keys::api_key_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::initial_tokens::initial_token_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::connections::connection_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::webhooks::webhook_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::artifacts::artifact_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::factors::factor_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::identity::identity_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::insights::insights_repo!(SqliteStore, sqlx::sqlite::SqliteRow, "at / 86400");
crate::store::sql::jobs::job_repo!(SqliteStore, sqlx::sqlite::SqliteRow);
crate::store::sql::records::records_repo!(SqliteStore, sqlx::sqlite::SqliteRow);

use super::audited;
use super::sql::Finish;
use super::{Access, OpenError, Ping, PoolUse, StoreError, StoreResult};
use crate::domain::{TenantId, Timestamp};
use connections::{Connections, Lent};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite, Transaction};
use std::ops::{Deref, DerefMut};
use std::{fs::File, path::Path, time::Duration};

pub struct SqliteStore {
    /// For transactions, migrations, housekeeping and the tools.
    pool: SqlitePool,
    /// For the single statements of repository calls, the reads of every request.
    readers: Connections,
    /// The revocation checks of concurrent requests, read together on a reader.
    access_reads: batches::AccessReads,
    /// One connection for the writes of the protocol's hot paths (token records and audit
    /// events by group commit, code redemption, refresh-token rotation). They queue for it in
    /// this process instead of sleeping on SQLite's write lock, and its page cache stays warm:
    /// SQLite drops a connection's cache whenever another connection has written since.
    writer: Connections,
    /// Held for the life of a server so a second server on the same file refuses to start.
    _server_lock: Option<File>,
    /// A server's checkpoints, beside the writer rather than in its commits.
    _checkpoints: Option<Checkpoints>,
}

/// Reader connections, opened as they are needed. Each has a thread of its own (sqlx's worker);
/// on two cores, 8 served introspection and userinfo best of 2, 4, 8 and 16 (bench/run.sh).
const READERS: usize = 8;

/// How often a server copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// A log this long (in 4 KiB pages) is copied by the committing writer itself: the bound on the
/// log's size should the background checkpoints fall behind.
const WRITER_CHECKPOINT_PAGES: &str = "16384";

/// The server's checkpoints run on a pooled connection, ten times a second. SQLite would
/// otherwise run them inside the writer's commit every 1,000 log pages: a copy of the log and
/// two `fsync`s that every request of that batch waited for (the client-credentials p99),
/// while a passive checkpoint beside the writer lets it go on committing. A page that every
/// batch changes (the end of an index) is copied once per checkpoint, not once per commit.
///
/// Under a steady stream of commits a checkpoint beside the writer never finds the log wholly
/// copied at the moment a write begins, which is when SQLite starts the log over: the writer's
/// own checkpoint at [`WRITER_CHECKPOINT_PAGES`] does that, and finds all but the last tenth
/// of a second already copied.
struct Checkpoints(tokio::task::AbortHandle);

impl Checkpoints {
    fn start(pool: SqlitePool) -> Self {
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; the writer's own checkpoints bound the log");
                }
            }
        });
        Self(task.abort_handle())
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SqliteStore {
    /// Opens the database; with `migrate`, applies its pending migrations first and says how
    /// many ran.
    pub async fn open(
        path: &Path,
        access: Access,
        migrate: bool,
    ) -> Result<(Self, usize), OpenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| OpenError::Io(dir.display().to_string(), e))?;
        }
        let server_lock = match access {
            Access::Server => Some(take_server_lock(path)?),
            Access::Tool => None,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let unreachable = |e: sqlx::Error| {
            OpenError::Connect(
                "the SQLite database",
                path.display().to_string(),
                e.to_string(),
            )
        };
        let applied = if migrate {
            apply_migrations(options.connect().await.map_err(unreachable)?).await?
        } else {
            0
        };
        // sqlx pings a connection before handing it out, a hop to the connection's thread and
        // back; a SQLite connection is a file handle in this process, with nothing to lose.
        // Four: the reads of the protocol go to `readers`; this pool serves transactions,
        // tenants, browser sessions and housekeeping, and each connection holds a page cache.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(unreachable)?;
        let readers = Connections::open(options.clone(), READERS)
            .await
            .map_err(unreachable)?;
        let writer = Connections::open(
            options
                .pragma("cache_size", "-8192")
                .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES),
            1,
        )
        .await
        .map_err(unreachable)?;
        let checkpoints = server_lock
            .is_some()
            .then(|| Checkpoints::start(pool.clone()));
        let store = Self {
            pool,
            access_reads: batches::access_reads(readers.clone()),
            readers,
            writer,
            _server_lock: server_lock,
            _checkpoints: checkpoints,
        };
        Ok((store, applied))
    }

    /// Writes a consistent copy of the database to `to` (`VACUUM INTO`), while others read and
    /// write.
    pub async fn backup(&self, to: &Path) -> StoreResult<()> {
        let target = to.to_str().ok_or_else(|| {
            StoreError::Unavailable(format!("{} is not valid UTF-8", to.display()))
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::from)
    }

    /// Where the statements of a repository call shared with PostgreSQL run (see
    /// `store::sql`): a reader connection, each statement committed by itself. SQLite has no
    /// row-level security: the statements' own tenant filters are the isolation.
    /// A change whose audit events wait to commit with it (`store::audited`) runs in a
    /// transaction instead.
    async fn tenant(&self, tenant: TenantId) -> Result<Statements, sqlx::Error> {
        if audited::waiting(tenant) {
            return Ok(Statements::Together(self.pool.begin().await?));
        }
        Ok(Statements::OneByOne(self.readers.lend().await?))
    }

    /// Like [`Self::tenant`], for statements that take effect together or not at all.
    async fn tenant_tx(
        &self,
        _tenant: TenantId,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin().await
    }

    /// A transaction for rows of every tenant (the job queue's claims, scheduled turns).
    async fn housekeeping(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin().await?)
    }
}

/// Applies the pending migrations in `migrations/sqlite` on a connection of their own, before
/// any other connection of the store has read the schema; returns how many ran. A connection
/// that read it earlier can prepare a `SELECT *` against the columns of before: sqlx keeps a
/// statement's columns from its preparation, SQLite prepares it again against the new ones when
/// it runs, and the row no longer fits (a panic in sqlx's worker, seen in CI).
async fn apply_migrations(mut db: SqliteConnection) -> Result<usize, OpenError> {
    let before = applied_migrations(&mut db).await;
    sqlx::migrate!("migrations/sqlite")
        .run(&mut db)
        .await
        .map_err(|e| OpenError::Migrate(e.to_string()))?;
    let after = applied_migrations(&mut db).await;
    db.close()
        .await
        .map_err(|e| OpenError::Migrate(e.to_string()))?;
    Ok(after.saturating_sub(before))
}

async fn applied_migrations(db: &mut SqliteConnection) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
        .fetch_one(db)
        .await
        .map(|n| n as usize)
        .unwrap_or(0)
}

impl SqliteStore {
    /// Deletes at most `limit` rows of `table` whose time `column` is before `before` (the
    /// housekeeping job). Both names are always our own constants, never input.
    async fn purge(
        &self,
        table: &'static str,
        column: &'static str,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        // Tables stored in their key's order (migration 0007) have no rowid.
        let key = match table {
            "access_tokens" => "tenant_id, jti",
            "audit_events" => "tenant_id, id",
            _ => "rowid",
        };
        let sql = format!(
            "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {column} < $1 LIMIT $2)"
        );
        let done = sqlx::query(&sql)
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Where the statements of one repository call run (see [`SqliteStore::tenant`]).
enum Statements {
    /// A reader connection: each statement commits by itself.
    OneByOne(Lent),
    /// A transaction: the statements of a change whose audit events wait to commit with it.
    Together(Transaction<'static, Sqlite>),
}

impl Deref for Statements {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            Statements::OneByOne(lent) => lent,
            Statements::Together(tx) => tx,
        }
    }
}

impl DerefMut for Statements {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Statements::OneByOne(lent) => lent,
            Statements::Together(tx) => tx,
        }
    }
}

impl Finish for Lent {
    async fn finish(self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn finish_unchanged(self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl Finish for Statements {
    async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Statements::OneByOne(_) => Ok(()),
            Statements::Together(tx) => tx.finish().await,
        }
    }

    async fn finish_unchanged(self) -> Result<(), sqlx::Error> {
        match self {
            Statements::OneByOne(_) => Ok(()),
            Statements::Together(tx) => tx.commit().await,
        }
    }
}

impl Finish for Transaction<'static, Sqlite> {
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

#[async_trait::async_trait]
impl Ping for SqliteStore {
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

fn take_server_lock(db_path: &Path) -> Result<File, OpenError> {
    let lock_path = db_path.with_extension("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| OpenError::Io(lock_path.display().to_string(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(OpenError::InUse(db_path.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(OpenError::Io(lock_path.display().to_string(), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::migrate::Migrator;

    /// Migration 0007 moves token records and audit events into tables kept in their key's
    /// order: what was stored before it is still there, and the audit log stays append-only.
    #[tokio::test]
    async fn migration_0007_keeps_earlier_rows_and_the_audit_log_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let earlier = dir.path().join("migrations");
        std::fs::create_dir(&earlier).unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_owned();
            if name.to_string_lossy().as_ref() < "0007" {
                std::fs::copy(&path, earlier.join(name)).unwrap();
            }
        }
        let file = dir.path().join("tessera.db");
        let mut db = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        let before = Migrator::new(earlier.as_path()).await.unwrap();
        assert_eq!(before.iter().count(), 6);
        before.run(&mut db).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO access_tokens (tenant_id, jti, client_id, scopes, issued_at,
                 expires_at, family_id) VALUES ('t', 'j1', 'app', '[]', 1, 2, 'f');
             INSERT INTO audit_events (tenant_id, id, at, action, outcome, actor)
                 VALUES ('t', 'e1', 1, 'user.created', 'success', 'cli')",
        )
        .execute(&mut db)
        .await
        .unwrap();
        db.close().await.unwrap();

        let (store, applied) = SqliteStore::open(&file, Access::Tool, true).await.unwrap();
        let all = Migrator::new(all.as_path()).await.unwrap().iter().count();
        assert_eq!(applied, all - 6, "0007 and those after it");

        let token: (String, String, i64) = sqlx::query_as(
            "SELECT client_id, family_id, expires_at FROM access_tokens
             WHERE tenant_id = 't' AND jti = 'j1'",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(token, ("app".into(), "f".into(), 2));
        let action: String =
            sqlx::query_scalar("SELECT action FROM audit_events WHERE tenant_id = 't'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(action, "user.created");
        let rewrite = sqlx::query("UPDATE audit_events SET action = 'user.deleted'")
            .execute(&store.pool)
            .await;
        assert!(
            rewrite.unwrap_err().to_string().contains("append-only"),
            "the trigger came back with the table"
        );
        for table in ["access_tokens", "audit_events"] {
            let rowid = sqlx::query(&format!("SELECT rowid FROM {table}"))
                .fetch_all(&store.pool)
                .await;
            assert!(rowid.is_err(), "{table} is stored without rowid");
        }
    }
}
