//! Runs the queued jobs of every tenant (`store::JobRepo`). Each server process claims due jobs
//! with a lease, runs them, then finishes them or puts them back for a later attempt, with a
//! growing, jittered pause. A job whose process died is claimed again when its lease ends, so
//! a job is never run by two processes at once and never lost (at least once).

use crate::domain::{Job, Timestamp};
use crate::jobs::webhooks;
use crate::oidc::backchannel;
use crate::state::AppState;
use crate::store::StoreResult;
use rand::Rng;
use std::time::Duration;

/// How long a claimed job is this process's: longer than any attempt takes (a delivery times
/// out after a few seconds); after it, a job whose process died is due again.
pub const LEASE_SECS: i64 = 60;
/// The queue is looked at this often even without a wake-up, for jobs of other processes and
/// retries that fell due.
const POLL: Duration = Duration::from_secs(1);
const BATCH: u32 = 8;

/// Runs this process's worker for the life of the server.
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        loop {
            match run_due(&state).await {
                Ok(0) => state.queue.woken(POLL).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the job queue could not be read; will retry");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
}

/// Claims and runs the jobs due now; returns how many it ran.
pub async fn run_due(state: &AppState) -> StoreResult<usize> {
    let now = Timestamp::now();
    let holder = state.queue.holder();
    let jobs = state
        .store
        .jobs
        .claim(holder, now, now.plus_secs(LEASE_SECS), BATCH)
        .await?;
    let claimed = jobs.len();
    let runs = jobs.into_iter().map(|job| async move {
        let outcome = run(state, &job).await;
        settle(state, &job, outcome).await
    });
    for settled in futures_util::future::join_all(runs).await {
        settled?;
    }
    Ok(claimed)
}

/// Runs one attempt of the job: `Err` says why it failed, worth another attempt.
async fn run(state: &AppState, job: &Job) -> Result<(), String> {
    match job.kind.as_str() {
        backchannel::JOB => backchannel::deliver(state, job).await,
        webhooks::JOB => webhooks::deliver(state, job).await,
        other => Err(format!("no handler for jobs of kind {other:?}")),
    }
}

/// When a job that failed is tried again, by kind; `None` when it is given up: a back-channel
/// logout after a number of attempts, a webhook message once a day has passed since it was
/// queued.
fn next_attempt(job: &Job, now: Timestamp) -> Option<Timestamp> {
    let run_at = now.plus_secs(pause_after(job.attempts));
    match job.kind.as_str() {
        backchannel::JOB => (job.attempts < backchannel::ATTEMPTS).then_some(run_at),
        webhooks::JOB => {
            let horizon = job.created_at.plus_secs(webhooks::RETRY_HORIZON_SECS);
            (!horizon.is_before(run_at)).then_some(run_at)
        }
        _ => None,
    }
}

async fn settle(state: &AppState, job: &Job, outcome: Result<(), String>) -> StoreResult<()> {
    let holder = state.queue.holder();
    match outcome {
        Ok(()) => {
            state.store.jobs.finish(job, holder).await?;
        }
        Err(why) => match next_attempt(job, Timestamp::now()) {
            Some(run_at) => {
                state.store.jobs.retry(job, holder, run_at, &why).await?;
            }
            None => give_up(state, job, holder, why).await?,
        },
    }
    Ok(())
}

/// Finishes a job that will not be tried again; only the holder of the lease gives up, once.
async fn give_up(state: &AppState, job: &Job, holder: &str, why: String) -> StoreResult<()> {
    if state.store.jobs.finish(job, holder).await? {
        let reason = format!("not delivered after {} attempts; last {why}", job.attempts);
        match job.kind.as_str() {
            backchannel::JOB => backchannel::given_up(state, job, reason).await,
            webhooks::JOB => webhooks::given_up(state, job, reason).await,
            kind => tracing::warn!(%kind, id = %job.id, %reason, "a job was given up"),
        }
    }
    Ok(())
}

/// The pause before attempt `attempts + 1`: 1 s, 3 s, 9 s, … (tripling, at most an hour), with
/// up to a quarter more at random so that retries of many jobs do not arrive together.
fn pause_after(attempts: i32) -> i64 {
    let base = 3_i64
        .saturating_pow(attempts.saturating_sub(1).max(0) as u32)
        .min(3600);
    base + rand::thread_rng().gen_range(0..=base / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_messages_are_retried_for_a_day_and_logouts_a_few_times() {
        let mut job = Job::new(
            crate::domain::TenantId::generate(),
            webhooks::JOB,
            "{}".into(),
        );
        job.attempts = 30;
        let created = job.created_at;
        assert!(next_attempt(&job, created.plus_secs(3600)).is_some());
        assert!(
            next_attempt(&job, created.plus_secs(23 * 3600)).is_none(),
            "an hour's pause would pass the day"
        );
        job.kind = backchannel::JOB.into();
        job.attempts = backchannel::ATTEMPTS - 1;
        assert!(next_attempt(&job, created).is_some());
        job.attempts = backchannel::ATTEMPTS;
        assert!(next_attempt(&job, created).is_none());
    }

    #[test]
    fn pauses_triple_with_some_jitter_and_a_ceiling() {
        for (attempts, base) in [(1, 1), (2, 3), (3, 9), (5, 81), (20, 3600)] {
            let pause = pause_after(attempts);
            assert!(
                (base..=base + base / 4).contains(&pause),
                "after {attempts} attempts: {pause} s"
            );
        }
    }
}
