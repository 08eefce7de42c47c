//! Second factors: enrolment, use at sign-in, removal, backup codes, and the audited reset
//! for a person who lost every factor. Every change is audited and the person is told by email.

pub mod backup_codes;
mod enrol;
pub mod totp;
mod verify;

pub use enrol::*;
pub use verify::*;

use super::one_time::{self, CodeError};
use super::{audit, own_event};
use crate::crypto::random_token;
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Factor, FactorKind, Outcome, Tenant, Timestamp, User};
use crate::error::{AppError, AppResult};
use crate::state::throttle::LoginThrottle;
use crate::state::AppState;
use crate::store::{from_json, to_json, StoreError};
use backup_codes::BackupCodes;
use totp::TotpState;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("that code is not right")]
    Wrong,
    #[error("too many attempts; wait {0} seconds")]
    Throttled(u64),
    #[error("this way of signing in is not available")]
    Unavailable,
    /// Input broke a rule; the message is safe to show.
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl From<StoreError> for MfaError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

pub async fn factors_of(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<Vec<Factor>> {
    Ok(state.store.factors.of_user(tenant.id, user.id).await?)
}

/// The kinds this person can sign in with as a second factor under the tenant's policy.
pub fn usable_kinds(tenant: &Tenant, factors: &[Factor]) -> Vec<FactorKind> {
    let mut kinds: Vec<FactorKind> = factors
        .iter()
        .map(|f| f.kind)
        .filter(|k| *k != FactorKind::BackupCodes && tenant.settings.allows(*k))
        .collect();
    kinds.dedup();
    if !kinds.is_empty() && factors.iter().any(|f| f.kind == FactorKind::BackupCodes) {
        kinds.push(FactorKind::BackupCodes);
    }
    kinds
}

fn throttle_key(user: &User) -> String {
    LoginThrottle::account_key(&format!("mfa:{}", user.id))
}

fn actor(user: &User) -> String {
    format!("user:{}", user.id)
}

/// Tells the person about a change to how they sign in, so a change they did not make stands out.
pub fn notify(state: &AppState, tenant: &Tenant, user: &User, what: &str) {
    let body = format!(
        "Hello,\n\n{what}\n\nAccount: {email}\nOrganisation: {org}\n\nIf this was you, there is nothing to do. If it was not, reset your password now and contact your administrator.\n",
        email = user.email,
        org = tenant.name,
    );
    state.mailer.send(
        &user.email,
        &format!("Security notice for your {} account", tenant.name),
        body,
        "security notice",
    );
}

pub(crate) async fn check_throttle(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
) -> Result<(), MfaError> {
    match state
        .throttle
        .wait_time(tenant.id, &throttle_key(user), meta.ip.as_deref())
        .await?
    {
        Some(wait) => Err(MfaError::Throttled(wait.as_secs().max(1))),
        None => Ok(()),
    }
}

/// A second factor passed: the attempt counter starts again, and the audit log says which.
pub(crate) async fn passed(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    which: &str,
) {
    if let Err(e) = state
        .throttle
        .record_success(tenant.id, &throttle_key(user))
        .await
    {
        tracing::warn!(request_id = ?meta.request_id, error = %e, "could not reset a throttle counter");
    }
    audit(
        state,
        meta,
        tenant,
        user,
        "login.second_factor",
        Outcome::Success,
        which,
    )
    .await;
}

pub(crate) async fn fail(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    action: &str,
    why: &str,
) {
    if let Err(e) = state
        .throttle
        .record_failure(tenant.id, &throttle_key(user), meta.ip.as_deref())
        .await
    {
        tracing::warn!(request_id = ?meta.request_id, error = %e, "could not count a failed attempt");
    }
    audit(state, meta, tenant, user, action, Outcome::Failure, why).await;
}

/// Removes one factor of the person. Removing the last way to sign in removes the backup codes
/// too, since they only stand in for a factor.
pub async fn remove(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    factor_id: &str,
) -> AppResult<()> {
    let factors = factors_of(state, tenant, user).await?;
    let Some(factor) = factors.iter().find(|f| f.id == factor_id) else {
        return Err(AppError::NotFound);
    };
    let event = own_event(
        tenant,
        user,
        "mfa.removed",
        Outcome::Success,
        factor.kind.as_str(),
    );
    let remove = state.store.factors.remove(tenant.id, user.id, &factor.id);
    if !state.audited(event, meta, remove).await? {
        return Err(AppError::NotFound);
    }
    let others_left = factors
        .iter()
        .any(|f| f.id != factor.id && f.kind != FactorKind::BackupCodes);
    if !others_left {
        for codes in factors.iter().filter(|f| f.kind == FactorKind::BackupCodes) {
            state
                .store
                .factors
                .remove(tenant.id, user.id, &codes.id)
                .await?;
        }
    }
    notify(
        state,
        tenant,
        user,
        &format!(
            "{} was removed from the ways to confirm your sign-ins.",
            factor.name
        ),
    );
    Ok(())
}

/// For a person who lost every factor: removes them all, audited with the reason. At the next
/// sign-in they enrol again if their organisation requires a second factor.
pub async fn reset(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    by: &str,
    reason: &str,
) -> AppResult<u64> {
    let reason = AuditEvent::check_reason(reason)?;
    let event = AuditEvent::new(tenant.id, "mfa.reset", Outcome::Success, by)
        .target(actor(user))
        .reason(reason);
    let remove_all = state.store.factors.remove_all(tenant.id, user.id);
    let removed = state.audited(event, meta, remove_all).await?;
    notify(
        state,
        tenant,
        user,
        "An administrator removed every second factor from your account. Set one up again on your account page.",
    );
    Ok(removed)
}

fn now_unix() -> u64 {
    Timestamp::now().unix().max(0) as u64
}
