use super::{audit, Actor};
use crate::domain::{SigningAlg, SigningKey, Tenant, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The tenant's signing keys, newest first (private halves stay sealed).
pub async fn list(state: &AppState, tenant: &Tenant) -> AppResult<Vec<SigningKey>> {
    state.keys.ensure(tenant.id).await?;
    Ok(state.store.keys.list(tenant.id).await?)
}

/// Starts a rotation of the tenant's `alg` key: the new key is published now and signs from
/// `activate_in` seconds on.
pub async fn rotate(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    alg: SigningAlg,
    activate_in: i64,
) -> AppResult<SigningKey> {
    if !(0..=30 * 24 * 3600).contains(&activate_in) {
        return Err(AppError::invalid(
            "--activate-in is 0 to 2592000 seconds (30 days).",
        ));
    }
    let key = state
        .keys
        .rotate(tenant.id, alg, Timestamp::now().plus_secs(activate_in))
        .await?;
    audit(
        state,
        actor,
        tenant.id,
        "key.rotation_started",
        format!("key:{}", key.kid),
    )
    .await;
    Ok(key)
}
