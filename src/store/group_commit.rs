//! Group commit: concurrent requests hand their rows to one writer task, which commits all that
//! are waiting in one transaction. Each request waits until the transaction that holds its row
//! has committed, so a response never speaks of a row that a crash could still lose, while a
//! burst of requests shares one commit (one fsync on SQLite, one round trip on PostgreSQL)
//! instead of paying one each.
//!
//! The same queue batches reads whose answers are per row (SQLite's revocation checks, see
//! `store/sqlite/batches.rs`): a batch is one statement, and each request gets its own row's
//! answer.

use super::{outbox, Issuance, Redemption, Rotation, Store, StoreError, StoreResult};
use crate::domain::{AuditEvent, RefreshToken};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// At most this many rows go into one batch; more wait for the next.
const MAX_BATCH: usize = 256;

/// Does a batch, all or nothing, and answers for each row in order.
type Commit<T, R> = Arc<dyn Fn(Vec<T>) -> BoxFuture<'static, StoreResult<Vec<R>>> + Send + Sync>;

struct Pending<T, R> {
    row: T,
    done: oneshot::Sender<StoreResult<R>>,
}

/// The queue in front of one writer (or reader); cheap to clone.
pub struct GroupCommit<T, R = ()> {
    queue: mpsc::UnboundedSender<Pending<T, R>>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Clone + Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer task; `commit` does a batch in one transaction (all or nothing) and
    /// answers for each of its rows, in order.
    pub fn start(
        commit: impl Fn(Vec<T>) -> BoxFuture<'static, StoreResult<Vec<R>>> + Send + Sync + 'static,
    ) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(waiting, Arc::new(commit)));
        Self { queue }
    }

    /// Does `row` with whatever else is waiting; returns its answer once its batch is done.
    pub async fn write(&self, row: T) -> StoreResult<R> {
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
/// (each with its `token.issued` event), refresh-token rotations (the token spent together with
/// the records of its replacement) and audit events, with the webhook messages they make
/// (`outbox.rs`). One writer for all, because SQLite takes
/// one writer at a time: two writers would wait on each other's locks.
#[derive(Clone, Debug)]
pub enum Write {
    Issued(Box<(Issuance, AuditEvent)>),
    Rotated(Box<Rotation>),
    Audit(Box<AuditEvent>),
}

/// The answer to a [`Write`]: what became of the token a rotation spends; nothing otherwise.
pub type Written = Option<Redemption<RefreshToken>>;

impl GroupCommit<Write, Written> {
    /// The writer in front of `store`'s token records and audit log.
    pub fn for_store(store: &Store) -> Self {
        let batches = store.batches.clone();
        let webhooks = store.webhooks.clone();
        Self::start(move |rows: Vec<Write>| {
            let batches = batches.clone();
            let webhooks = webhooks.clone();
            Box::pin(async move {
                let (mut rotations, mut issued, mut events) = (Vec::new(), Vec::new(), Vec::new());
                let mut rotates = Vec::with_capacity(rows.len());
                for row in rows {
                    rotates.push(matches!(row, Write::Rotated(_)));
                    match row {
                        Write::Issued(both) => {
                            let (issuance, event) = *both;
                            issued.push(issuance);
                            events.push(event);
                        }
                        Write::Rotated(rotation) => rotations.push(*rotation),
                        Write::Audit(e) => events.push(*e),
                    }
                }
                let jobs = outbox::messages_of(&*webhooks, &events).await?;
                let mut outcomes = batches
                    .write_batch(&rotations, &issued, &events, &jobs)
                    .await?
                    .into_iter();
                Ok(rotates
                    .into_iter()
                    .map(|rotates| if rotates { outcomes.next() } else { None })
                    .collect())
            })
        })
    }

    /// Spends the refresh token of `rotation` and, if that spent it, stores its replacement.
    pub async fn rotate(&self, rotation: Rotation) -> StoreResult<Redemption<RefreshToken>> {
        self.write(Write::Rotated(Box::new(rotation)))
            .await?
            .ok_or_else(|| StoreError::Unavailable("a rotation got no answer".into()))
    }
}

async fn write_batches<T: Clone + Send + 'static, R>(
    mut waiting: mpsc::UnboundedReceiver<Pending<T, R>>,
    commit: Commit<T, R>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Rows that arrive while a transaction commits are the next batch.
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, senders): (Vec<T>, Vec<_>) = batch.drain(..).map(|p| (p.row, p.done)).unzip();
        match commit(rows.clone()).await {
            Ok(answers) => {
                debug_assert_eq!(answers.len(), senders.len(), "one answer per row");
                for (sender, answer) in senders.into_iter().zip(answers) {
                    let _ = sender.send(Ok(answer));
                }
            }
            // One bad row must not fail its neighbours: each is tried alone, for its own answer.
            // (Not when the store is unreachable: each would wait out its own timeout.)
            Err(e) if rows.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                for (row, sender) in rows.into_iter().zip(senders) {
                    let alone = commit(vec![row]).await.and_then(|answers| {
                        answers
                            .into_iter()
                            .next()
                            .ok_or_else(|| StoreError::Unavailable("a batch gave no answer".into()))
                    });
                    let _ = sender.send(alone);
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
                let answers: Vec<u32> = rows.iter().map(|n| n * 2).collect();
                seen.lock().unwrap().push(rows);
                Ok(answers)
            })
        });
        let results = futures_util::future::join_all((0..100).map(|n| writer.write(n))).await;
        for (n, result) in (0..).zip(&results) {
            assert_eq!(
                result.as_ref().ok(),
                Some(&(n * 2)),
                "row {n} gets its own answer"
            );
        }
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
