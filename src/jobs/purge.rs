//! Deletes expired browser sessions, sign-in sessions, protocol artifacts and old webhook
//! delivery attempts, a bounded batch per run, so tables filled by anonymous visitors (or by
//! a busy receiver's log) cannot grow without end.

use crate::domain::Timestamp;
use crate::store::{Store, StoreResult, ARTIFACT_RETENTION_SECS};
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(5 * 60);
/// Each process asks this often whether it is its turn; one turn per [`EVERY`] is taken.
const ASK_EVERY: Duration = Duration::from_secs(60);
const BATCH: u32 = 1_000;
/// How long the webhook delivery log keeps an attempt.
pub const DELIVERY_LOG_SECS: i64 = 30 * 86_400;

/// Rows deleted by one run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub browser_sessions: u64,
    pub user_sessions: u64,
    pub artifacts: u64,
    pub retired_keys: u64,
    pub delivery_attempts: u64,
}

pub async fn run_once(store: &Store, now: Timestamp) -> StoreResult<Purged> {
    Ok(Purged {
        browser_sessions: store.browser_sessions.purge_expired(now, BATCH).await?,
        user_sessions: store.sessions.purge_expired(now, BATCH).await?,
        artifacts: store
            .artifacts
            .purge_expired(now.plus_secs(-ARTIFACT_RETENTION_SECS), BATCH)
            .await?,
        retired_keys: store.keys.purge_retired(now, BATCH).await?,
        delivery_attempts: store
            .webhooks
            .purge_attempts_before(now.plus_secs(-DELIVERY_LOG_SECS), BATCH)
            .await?,
    })
}

/// Runs for the life of the server: of all the processes sharing the store, one purges every
/// five minutes.
pub async fn run_forever(store: Store) {
    let mut ticks = tokio::time::interval(ASK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        match store
            .jobs
            .take_turn("purge", now, now.plus_secs(EVERY.as_secs() as i64))
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the purge's schedule; will retry");
                continue;
            }
        }
        match run_once(&store, now).await {
            Ok(purged) if purged != Purged::default() => {
                tracing::info!(?purged, "purged expired rows")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed; will retry"),
        }
    }
}
