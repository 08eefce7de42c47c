//! Secrets shown exactly once, such as new backup codes: kept sealed for a few minutes for the
//! browser that created them, and gone once its page has read them.

use super::browser;
use crate::domain::{Tenant, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{from_json, to_json};
use base64::{engine::general_purpose::STANDARD, Engine};
use tower_sessions::Session;

const KIND: &str = "reveal";
const LIFETIME_SECS: i64 = 600;
const SEAL_CONTEXT: &str = "reveal";

/// Keeps `secrets` for this browser's next [`take`], replacing any not yet shown.
pub async fn stash(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
    secrets: &[String],
) -> AppResult<()> {
    let key = browser::binding_hash(session).await?;
    let sealed = STANDARD.encode(
        state
            .secrets
            .seal(to_json(secrets).as_bytes(), SEAL_CONTEXT),
    );
    let store = &state.store.artifacts;
    store.take_ephemeral(tenant.id, KIND, &key).await?;
    let expires = Timestamp::now().plus_secs(LIFETIME_SECS);
    Ok(store
        .put_ephemeral(tenant.id, KIND, &key, &to_json(&sealed), expires)
        .await?)
}

/// The secrets stashed for this browser, once.
pub async fn take(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
) -> AppResult<Option<Vec<String>>> {
    let key = browser::binding_hash(session).await?;
    let Some(record) = state
        .store
        .artifacts
        .take_ephemeral(tenant.id, KIND, &key)
        .await?
    else {
        return Ok(None);
    };
    let sealed: String = from_json(&record.value)?;
    let bytes = STANDARD.decode(sealed).map_err(AppError::internal)?;
    let plain = state
        .secrets
        .open(&bytes, SEAL_CONTEXT)
        .map_err(AppError::internal)?;
    Ok(Some(from_json(&String::from_utf8_lossy(&plain))?))
}
