//! Signing people in: password hashing and policy, throttling, the login step machine and the
//! browser-side session helpers.

pub mod account;
pub mod browser;
pub mod export;
pub mod links;
pub mod login;
pub mod mfa;
pub mod one_time;
pub mod passkeys;
pub mod recovery;
pub mod reveal;
pub mod signup;
pub mod upstream;

use crate::domain::{AuditEvent, Outcome, RequestMeta, Tenant, User};
use crate::state::AppState;

/// An audit event of `user`'s own doing (signing in, changing a factor, …).
pub(super) async fn audit(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    action: &str,
    outcome: Outcome,
    reason: impl Into<String>,
) {
    state
        .audit(own_event(tenant, user, action, outcome, reason), meta)
        .await;
}

/// The event of `user`'s own `action` (an account change, a sign-in step).
pub(super) fn own_event(
    tenant: &Tenant,
    user: &User,
    action: &str,
    outcome: Outcome,
    reason: impl Into<String>,
) -> AuditEvent {
    let actor = format!("user:{}", user.id);
    AuditEvent::new(tenant.id, action, outcome, actor.clone())
        .target(actor)
        .reason(reason)
}
