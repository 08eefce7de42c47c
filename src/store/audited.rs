//! A change committed together with its audit events and the webhook messages they queue, so
//! that neither commits without the other. The caller runs the repository call that makes the
//! change inside [`with_change`]; a backend whose call is one transaction (SQLite, PostgreSQL)
//! takes the waiting rows when it commits ([`take`]) and inserts them in that transaction.
//! Where no transaction can hold them they are handed back, for the caller to write right
//! after the change as any other audit event: on MongoDB (an idempotent follow-up: the
//! messages' ids derive from their event's), for a tenant with a database of its own (the job
//! queue is the main store's, see [`apart`]), and after a call that changed nothing.

use crate::domain::{AuditEvent, Job, TenantId};
use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// The rows a change commits with it.
#[derive(Debug, Default)]
pub struct Outbound {
    pub events: Vec<AuditEvent>,
    pub jobs: Vec<Job>,
}

/// What a repository call's result says about whether it changed anything: nothing is audited
/// for a call that found nothing to change (a role already held, a key already revoked).
pub trait Effect {
    fn changed(&self) -> bool;
}

impl Effect for () {
    fn changed(&self) -> bool {
        true
    }
}

impl Effect for bool {
    fn changed(&self) -> bool {
        *self
    }
}

impl Effect for u64 {
    fn changed(&self) -> bool {
        *self > 0
    }
}

struct Waiting {
    tenant: Option<TenantId>,
    rows: Mutex<Option<Outbound>>,
}

impl Waiting {
    fn rows(&self) -> std::sync::MutexGuard<'_, Option<Outbound>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

tokio::task_local! {
    static WAITING: Waiting;
}

/// Runs `change`, a repository call for `tenant`, with `rows` waiting to commit in its
/// transaction. Returns its result and the rows no transaction took.
pub async fn with_change<F: Future>(
    tenant: TenantId,
    rows: Outbound,
    change: F,
) -> (F::Output, Option<Outbound>) {
    let waiting = Waiting {
        tenant: Some(tenant),
        rows: Mutex::new(Some(rows)),
    };
    WAITING
        .scope(waiting, async move {
            let result = change.await;
            (result, WAITING.with(|w| w.rows().take()))
        })
        .await
}

/// Whether rows wait for a change of `tenant`: a backend then runs the call in one transaction
/// even where its statements would otherwise commit one by one.
pub fn waiting(tenant: TenantId) -> bool {
    WAITING
        .try_with(|w| w.tenant == Some(tenant) && w.rows().is_some())
        .unwrap_or(false)
}

/// Takes the waiting rows, for the transaction that is about to commit the change.
pub fn take() -> Option<Outbound> {
    WAITING.try_with(|w| w.rows().take()).ok().flatten()
}

/// Runs `call` where no rows wait: for a store whose transaction cannot hold them all (a
/// tenant's own database, while the job queue is the main store's).
pub async fn apart<F: Future>(call: F) -> F::Output {
    let nothing = Waiting {
        tenant: None,
        rows: Mutex::new(None),
    };
    WAITING.scope(nothing, call).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditEvent, Outcome};

    fn rows(tenant: TenantId) -> Outbound {
        Outbound {
            events: vec![AuditEvent::new(
                tenant,
                "role.created",
                Outcome::Success,
                "cli",
            )],
            jobs: Vec::new(),
        }
    }

    #[tokio::test]
    async fn rows_wait_only_for_their_tenant_and_are_taken_once() {
        let (tenant, other) = (TenantId::generate(), TenantId::generate());
        let (taken, left) = with_change(tenant, rows(tenant), async {
            assert!(!waiting(other));
            assert!(waiting(tenant));
            let taken = take();
            assert!(!waiting(tenant));
            assert!(take().is_none());
            taken
        })
        .await;
        assert_eq!(taken.map(|r| r.events.len()), Some(1));
        assert!(left.is_none());
        assert!(!waiting(tenant), "nothing waits outside a change");
    }

    #[tokio::test]
    async fn rows_no_transaction_took_are_handed_back() {
        let tenant = TenantId::generate();
        let ((), left) = with_change(tenant, rows(tenant), async {
            apart(async {
                assert!(!waiting(tenant));
                assert!(take().is_none());
            })
            .await;
        })
        .await;
        assert_eq!(left.map(|r| r.events.len()), Some(1));
    }
}
