//! This process's side of the job queue shared through the store (`store::JobRepo`): its name
//! in leases, and the wake-up of its worker (`jobs::queue`) when it queues a job itself.

use crate::crypto::random_token;
use crate::domain::{Job, TenantId};
use crate::store::{JobRepo, StoreResult};
use std::time::Duration;
use tokio::sync::Notify;

pub struct Queue {
    holder: String,
    wake: Notify,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            holder: format!("process-{}", random_token(8)),
            wake: Notify::new(),
        }
    }
}

impl Queue {
    /// Stores the job and wakes this process's worker, which runs it at once.
    pub async fn enqueue(
        &self,
        jobs: &dyn JobRepo,
        tenant: TenantId,
        job: &Job,
    ) -> StoreResult<()> {
        jobs.enqueue(tenant, job).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Who holds the leases this process takes.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Returns when this process queues a job, or after `at_most`.
    pub async fn woken(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.wake.notified()).await;
    }
}
