//! Rotates signing keys on a schedule: an active key older than the configured age gets a
//! successor, published now and signing after [`PUBLISH_BEFORE_USE_SECS`]. Every process may
//! run it (the store lets only one successor per key exist); of all the processes sharing the
//! store, one takes each hourly turn.

use crate::domain::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::keys::PUBLISH_BEFORE_USE_SECS;
use crate::state::AppState;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(3600);
/// Each process asks this often whether it is its turn; one turn per [`EVERY`] is taken.
const ASK_EVERY: Duration = Duration::from_secs(5 * 60);
/// Keys rotated per query of the store: the store is asked again until none is due.
const BATCH: u32 = 100;

/// Starts the rotations due at `now` for keys older than `max_age_secs`; returns how many.
/// The store names the keys due, so a turn costs one query however many tenants there are.
pub async fn run_once(state: &AppState, now: Timestamp, max_age_secs: i64) -> AppResult<u32> {
    let mut started = 0;
    loop {
        let due = state
            .store
            .keys
            .due_for_rotation(now.plus_secs(-max_age_secs), BATCH)
            .await?;
        for (tenant, alg) in &due {
            let activates_at = now.plus_secs(PUBLISH_BEFORE_USE_SECS);
            match state.keys.rotate(*tenant, *alg, activates_at).await {
                Ok(_) => started += 1,
                // Another process started the same rotation.
                Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // Each key named now has a successor, so the next query names others.
        if due.len() < BATCH as usize {
            return Ok(started);
        }
    }
}

/// Runs for the life of the server when rotation is configured.
pub async fn run_forever(state: AppState, max_age_days: u32) {
    let max_age_secs = i64::from(max_age_days) * 24 * 3600;
    let mut ticks = tokio::time::interval(ASK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        let next = now.plus_secs(EVERY.as_secs() as i64);
        match state.store.jobs.take_turn("rotate-keys", now, next).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the key rotation's schedule; will retry");
                continue;
            }
        }
        match run_once(&state, now, max_age_secs).await {
            Ok(0) => {}
            Ok(started) => tracing::info!(started, "signing-key rotations started"),
            Err(e) => tracing::warn!(error = %e, "rotating signing keys failed; will retry"),
        }
    }
}
