//! Group commit: concurrent requests hand their rows to one writer task, which commits all that
//! are waiting in one transaction. Each request waits until the transaction that holds its row
//! has committed, so a response never speaks of a row that a crash could still lose, while a
//! burst of requests shares one commit (one fsync on SQLite, one round trip on PostgreSQL)
//! instead of paying one each.

use super::{Issuance, Store, StoreError, StoreResult};
use crate::domain::AuditEvent;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// At most this many rows go into one transaction; more wait for the next.
const MAX_BATCH: usize = 256;

type Commit<T> = Arc<dyn Fn(Vec<T>) -> BoxFuture<'static, StoreResult<()>> + Send + Sync>;

struct Pending<T> {
    row: T,
    done: oneshot::Sender<StoreResult<()>>,
}

/// The queue in front of one writer; cheap to clone.
pub struct GroupCommit<T> {
    queue: mpsc::UnboundedSender<Pending<T>>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> GroupCommit<T> {
    /// Starts the writer task; `commit` writes a batch in one transaction (all or nothing).
    pub fn start(
        commit: impl Fn(Vec<T>) -> BoxFuture<'static, StoreResult<()>> + Send + Sync + 'static,
    ) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(waiting, Arc::new(commit)));
        Self { queue }
    }

    /// Writes `row` with whatever else is waiting; returns once it is committed.
    pub async fn write(&self, row: T) -> StoreResult<()> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { row, done })
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }
}

/// What the server writes through its group-commit writer: the records of token responses
/// (each with its `token.issued` event) and audit events. One writer for both, because SQLite
/// takes one writer at a time: two writers would wait on each other's locks.
#[derive(Clone, Debug)]
pub enum Write {
    Issued(Box<(Issuance, AuditEvent)>),
    Audit(Box<AuditEvent>),
}

impl GroupCommit<Write> {
    /// The writer in front of `store`'s token records and audit log.
    pub fn for_store(store: &Store) -> Self {
        let batches = store.batches.clone();
        Self::start(move |rows: Vec<Write>| {
            let batches = batches.clone();
            Box::pin(async move {
                let (mut issued, mut events) = (Vec::new(), Vec::new());
                for row in rows {
                    match row {
                        Write::Issued(both) => {
                            let (issuance, event) = *both;
                            issued.push(issuance);
                            events.push(event);
                        }
                        Write::Audit(e) => events.push(*e),
                    }
                }
                batches.write_batch(&issued, &events).await
            })
        })
    }
}

async fn write_batches<T: Clone + Send + 'static>(
    mut waiting: mpsc::UnboundedReceiver<Pending<T>>,
    commit: Commit<T>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Rows that arrive while a transaction commits are the next batch.
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, senders): (Vec<T>, Vec<_>) = batch.drain(..).map(|p| (p.row, p.done)).unzip();
        match commit(rows.clone()).await {
            Ok(()) => senders.into_iter().for_each(|s| {
                let _ = s.send(Ok(()));
            }),
            // One bad row must not fail its neighbours: each is tried alone, for its own answer.
            Err(_) if rows.len() > 1 => {
                for (row, sender) in rows.into_iter().zip(senders) {
                    let _ = sender.send(commit(vec![row]).await);
                }
            }
            Err(e) => senders.into_iter().for_each(|s| {
                let _ = s.send(Err(e.clone()));
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn concurrent_rows_share_transactions_and_each_hears_its_own_outcome() {
        let batches: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let seen = batches.clone();
        let writer = GroupCommit::start(move |rows: Vec<u32>| {
            let seen = seen.clone();
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                if rows.contains(&113) {
                    return Err(StoreError::Conflict("row 113"));
                }
                seen.lock().unwrap().push(rows);
                Ok(())
            })
        });
        let results = futures_util::future::join_all((0..100).map(|n| writer.write(n))).await;
        assert!(results.iter().all(Result::is_ok));
        let transactions = batches.lock().unwrap().len();
        assert!(
            transactions < 50,
            "rows waiting together commit together ({transactions} transactions for 100 rows)"
        );

        // A batch with a bad row: the others are still written, and only it is refused.
        let results = futures_util::future::join_all((100..120).map(|n| writer.write(n))).await;
        for (n, result) in (100..).zip(&results) {
            assert_eq!(result.is_ok(), n != 113, "row {n}: {result:?}");
        }
        let mut committed: Vec<u32> = batches.lock().unwrap().iter().flatten().copied().collect();
        committed.sort_unstable();
        assert_eq!(
            committed,
            (0..120).filter(|n| *n != 113).collect::<Vec<_>>()
        );
    }
}
