//! Work that must outlive the request, and the process, that asked for it.

use super::{TenantId, Timestamp};
use uuid::Uuid;

/// A queued job of one tenant, e.g. a back-channel logout delivery. A process claims it with
/// a lease; should the process die, the lease ends and another process runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Which handler runs it, e.g. `logout.backchannel`.
    pub kind: String,
    /// JSON, read by the handler.
    pub payload: String,
    pub created_at: Timestamp,
    /// Not run before this time.
    pub run_at: Timestamp,
    /// Attempts started so far, counting the one of the current lease.
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl Job {
    /// A job due now.
    pub fn new(tenant_id: TenantId, kind: &str, payload: String) -> Self {
        let now = Timestamp::now();
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            kind: kind.into(),
            payload,
            created_at: now,
            run_at: now,
            attempts: 0,
            last_error: None,
        }
    }
}

/// The queue of every tenant at one moment, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobBacklog {
    /// Every job not yet finished.
    pub waiting: u64,
    /// Those due and not leased: what the workers have yet to take.
    pub due: u64,
}
