//! What a browser's session (`tower-sessions`) holds for us: the CSRF token, the value that
//! binds login flows to this browser, and which sign-in is active in each tenant.

use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::{Tenant, Timestamp, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use tower_sessions::Session;

const CSRF: &str = "csrf";
const BINDING: &str = "binding";

fn signed_in_key(tenant: &Tenant) -> String {
    format!("signin:{}", tenant.id)
}

async fn get_or_create(session: &Session, key: &str) -> AppResult<String> {
    if let Some(value) = session
        .get::<String>(key)
        .await
        .map_err(AppError::internal)?
    {
        return Ok(value);
    }
    let value = random_token(32);
    session
        .insert(key, &value)
        .await
        .map_err(AppError::internal)?;
    Ok(value)
}

/// The synchronizer token every form carries (OWASP CSRF Prevention Cheat Sheet).
pub async fn csrf_token(session: &Session) -> AppResult<String> {
    get_or_create(session, CSRF).await
}

pub async fn csrf_is_valid(session: &Session, submitted: &str) -> bool {
    match session.get::<String>(CSRF).await {
        Ok(Some(expected)) => !submitted.is_empty() && constant_time_eq(&expected, submitted),
        _ => false,
    }
}

/// Hash of this browser's binding value; a flow created here stores it and accepts no other.
pub async fn binding_hash(session: &Session) -> AppResult<String> {
    Ok(sha256_hex(&get_or_create(session, BINDING).await?))
}

/// The active sign-in of this browser in `tenant`, if it is still valid (absolute and idle expiry).
pub async fn current_sign_in(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
) -> AppResult<Option<UserSession>> {
    let Some(id) = session
        .get::<String>(&signed_in_key(tenant))
        .await
        .map_err(AppError::internal)?
    else {
        return Ok(None);
    };
    let Some(user_session) = state.store.sessions.get(tenant.id, &id).await? else {
        return Ok(None);
    };
    let now = Timestamp::now();
    if !user_session.is_active(now, tenant.settings.session_idle_timeout_secs) {
        return Ok(None);
    }
    // Refreshing the idle clock at most once a minute keeps writes off the hot path.
    if user_session.last_seen_at.plus_secs(60).is_before(now) {
        state.store.sessions.touch(tenant.id, &id, now).await?;
    }
    Ok(Some(user_session))
}

/// Records a new sign-in and gives the browser a fresh session id (no session fixation).
pub async fn remember_sign_in(
    session: &Session,
    tenant: &Tenant,
    user_session: &UserSession,
) -> AppResult<()> {
    session.cycle_id().await.map_err(AppError::internal)?;
    session
        .insert(&signed_in_key(tenant), &user_session.id)
        .await
        .map_err(AppError::internal)
}

/// Ends this browser's sign-in to `tenant`; returns the ended session.
pub async fn sign_out(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
) -> AppResult<Option<String>> {
    let id = session
        .remove::<String>(&signed_in_key(tenant))
        .await
        .map_err(AppError::internal)?;
    if let Some(id) = &id {
        state
            .store
            .sessions
            .revoke(tenant.id, id, Timestamp::now())
            .await?;
    }
    Ok(id)
}
