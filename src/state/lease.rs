//! Leases: mutual exclusion across every process of an installation. A lease is a short-lived
//! record in the store that keeps the OIDC artifacts (the main database, or Redis), holding a
//! random holder id; it expires on its own, so a process that dies holding it blocks others
//! only until then.

use crate::crypto::random_token;
use crate::domain::{TenantId, Timestamp};
use crate::error::{AppError, AppResult};
use crate::store::{OidcArtifactRepo, StoreError};
use std::{sync::Arc, time::Duration};

const KIND: &str = "lease";
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// Held until dropped; then released in the background (or, should that fail, at expiry).
#[must_use = "the lease ends when dropped"]
pub struct Lease {
    store: Arc<dyn OidcArtifactRepo>,
    tenant: TenantId,
    name: String,
    holder: String,
}

impl Lease {
    /// Takes the lease `name` of `tenant` for at most `hold_secs`, waiting up to `patience`
    /// while another holds it.
    pub async fn acquire(
        store: &Arc<dyn OidcArtifactRepo>,
        tenant: TenantId,
        name: &str,
        hold_secs: i64,
        patience: Duration,
    ) -> AppResult<Self> {
        let holder = random_token(16);
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = FIRST_PAUSE;
        loop {
            let until = Timestamp::now().plus_secs(hold_secs);
            match store
                .put_ephemeral(tenant, KIND, name, &holder, until)
                .await
            {
                Ok(()) => {
                    return Ok(Self {
                        store: store.clone(),
                        tenant,
                        name: name.into(),
                        holder,
                    })
                }
                Err(StoreError::Conflict(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(AppError::Conflict(
                        "Another change of the same kind is in progress. Try again in a moment."
                            .into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (store, tenant) = (self.store.clone(), self.tenant);
        let (name, holder) = (
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.holder),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.remove_ephemeral_if(tenant, KIND, &name, &holder).await {
                    tracing::warn!(lease = %name, error = %e, "could not release a lease; it ends at expiry");
                }
            });
        }
    }
}
