//! SQLite connections lent without sqlx's pool, for the reads and writes of the hot paths.
//!
//! sqlx's pool takes a connection back by spawning a task that pings it (sqlx-core 0.8
//! `PoolConnection::drop`), unconditionally: on SQLite that is a second round trip to the
//! connection's worker thread after every query, and under load the wake-ups of those threads
//! are most of the cost of a read. The ping is there to flush what a cancelled query left
//! behind, and a SQLite connection leaves nothing: its worker runs commands in order, each with
//! its own reply channel, rolls back a `BEGIN` whose caller went away, and a dropped
//! `Transaction` queues its own rollback. So a connection goes back to the idle list as it is.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub(super) struct Connections(Arc<Shared>);

struct Shared {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    /// One per connection that may exist: idle or lent.
    permits: Arc<Semaphore>,
}

impl Connections {
    /// At most `size` connections, opened as they are needed; one is opened now, so that a
    /// database that cannot be opened fails at start-up.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        size: usize,
    ) -> Result<Self, sqlx::Error> {
        let first = options.connect().await?;
        Ok(Self(Arc::new(Shared {
            options,
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size)),
        })))
    }

    /// A connection of its own until the returned [`Lent`] is dropped; waits (in turn) while
    /// all are lent.
    pub(super) async fn lend(&self) -> Result<Lent, sqlx::Error> {
        let permit = self
            .0
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let idle = self.0.idle().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.0.options.connect().await?,
        };
        Ok(Lent {
            connection: Some(connection),
            home: self.0.clone(),
            _permit: permit,
        })
    }
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A lent connection; it goes back to the idle list when dropped, before its permit does.
pub(super) struct Lent {
    connection: Option<SqliteConnection>,
    home: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Lent {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.connection.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.connection.as_mut().expect("held until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.home.idle().push(connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// One connection to a new database file in `dir`.
    async fn one_connection(dir: &tempfile::TempDir) -> Connections {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("lent.db"))
            .create_if_missing(true);
        Connections::open(options, 1).await.unwrap()
    }

    #[tokio::test]
    async fn a_connection_left_in_a_cancelled_transaction_comes_back_clean() {
        let dir = tempfile::tempdir().unwrap();
        let connections = one_connection(&dir).await;
        let mut lent = connections.lend().await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&mut *lent)
            .await
            .unwrap();
        {
            let mut tx = lent.begin().await.unwrap();
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without a commit, as when a request is cancelled mid-way.
        }
        drop(lent);

        let mut again = connections.lend().await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *again)
            .await
            .unwrap();
        assert_eq!(rows, 0, "the uncommitted insert was rolled back");
        // Not inside a left-over transaction: a BEGIN would fail if it were.
        let tx = again.begin().await.unwrap();
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn borrowers_beyond_the_size_wait_for_a_connection_to_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let connections = one_connection(&dir).await;
        let first = connections.lend().await.unwrap();
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(100), connections.lend()).await;
        assert!(
            waiting.is_err(),
            "a second borrower waits while the one connection is lent"
        );
        drop(first);
        let mut second = connections.lend().await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *second)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
}
