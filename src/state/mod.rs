//! What every request handler shares, built once at start-up: the store, the signing keys,
//! password hashing, sign-in throttling, the WebAuthn relying party and the fetcher of clients'
//! documents. What several processes must agree on (throttling counters, leases, queued jobs,
//! when a client's keys may be fetched again) lives in the store, not here.

pub mod key_sets;
pub mod keys;
pub mod lease;
pub mod metrics;
pub mod outbound;
pub mod password;
pub mod provider_documents;
pub mod queue;
pub mod relying_party;
pub mod throttle;

use keys::KeyRing;
use password::Passwords;
use relying_party::RelyingParty;
use throttle::LoginThrottle;

use crate::config::Config;
use crate::crypto::EncryptionKey;
use crate::domain::AuditEvent;
use crate::domain::RequestMeta;
use crate::mail::Mailer;
use crate::store::{
    audited::{self, Effect, Outbound},
    group_commit::{GroupCommit, Write, Written},
    outbox, Store, StoreResult,
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::sync::Arc;

/// Cloned for every request (axum's `State`), so it is one pointer: cloning the parts
/// themselves (the store's handles, Leptos's options) cost a few allocations per request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub passwords: Passwords,
    pub throttle: Arc<LoginThrottle>,
    /// Seals TOTP secrets and other secrets at rest.
    pub secrets: EncryptionKey,
    pub mailer: Mailer,
    pub passkeys: Arc<RelyingParty>,
    pub leptos_options: LeptosOptions,
    /// Records of issued tokens and audit events, committed in groups (`store::group_commit`).
    pub writer: GroupCommit<Write, Written>,
    /// This process's side of the shared job queue (`jobs::queue`).
    pub queue: queue::Queue,
    /// Fetches clients' documents (`jwks_uri`, `request_uri`) through the SSRF guard.
    pub fetcher: outbound::Fetcher,
    /// Clients' keys fetched from their `jwks_uri`, for a few minutes.
    pub key_sets: key_sets::KeySets,
    /// Upstream providers' discovery documents and keys, for a few minutes.
    pub provider_documents: provider_documents::ProviderDocuments,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Writes an audit event with the request's origin. A failed write is logged, not fatal:
    /// the storage fault that caused it surfaces on the request's own writes.
    pub async fn audit(&self, event: AuditEvent, meta: &RequestMeta) {
        metrics::audited(&event);
        self.write_audit(meta.stamp(event)).await;
    }

    /// Makes `change`, a repository call for the event's tenant, and audits it with `event`
    /// (stamped with the request's origin) only if it changed something. Where the store runs
    /// the call in one transaction (SQLite, PostgreSQL), the event and the webhook messages it
    /// queues commit in that transaction, so neither the change nor its event exists without
    /// the other; elsewhere (MongoDB, a tenant's own database) they are written right after it,
    /// as [`Self::audit`] writes (`store::audited`).
    pub async fn audited<T: Effect>(
        &self,
        event: AuditEvent,
        meta: &RequestMeta,
        change: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let event = meta.stamp(event);
        let tenant = event.tenant_id;
        let jobs = outbox::messages_of(&*self.store.webhooks, std::slice::from_ref(&event)).await?;
        let rows = Outbound {
            events: vec![event.clone()],
            jobs,
        };
        let (result, left) = audited::with_change(tenant, rows, change).await;
        let done = result?;
        if done.changed() {
            metrics::audited(&event);
            if left.is_some() {
                self.write_audit(event).await;
            }
        }
        Ok(done)
    }

    async fn write_audit(&self, event: AuditEvent) {
        let (action, request_id) = (event.action.clone(), event.request_id.clone());
        if let Err(e) = self.writer.write(Write::Audit(Box::new(event))).await {
            tracing::error!(?request_id, %action, error = %e, "audit write failed");
        }
    }
}
