//! API keys of a tenant: made in the console with at most their creator's permissions and
//! shown once, listed with their last use, revoked; and recognised when another system
//! presents one. Every change and every use is audited.

use super::{audited, event_of, Actor, Credential, KeyHolder};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::api_key::{looks_like_key, PREFIX};
use crate::domain::{
    ApiKey, AuditEvent, Grants, KeyStatus, Outcome, RequestMeta, Tenant, Timestamp,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use uuid::Uuid;

const MANAGE: &str = "api_keys:manage";
/// A key's last use is written at most this often, so a busy key costs no write per request.
const USE_RECORD_SECS: i64 = 60;
/// Characters of the key after the prefix kept as its hint.
const HINT_CHARS: usize = 6;

/// A key just made: `secret` is the key itself, shown to its creator this once.
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

pub async fn list(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Vec<ApiKey>> {
    actor.require(tenant, MANAGE)?;
    Ok(state.store.api_keys.list(tenant.id).await?)
}

/// Makes a key. Creating a credential is sensitive (a recent sign-in), and it never holds a
/// permission its creator lacks.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    name: &str,
    permissions: &[String],
    lifetime_days: i64,
) -> AppResult<NewKey> {
    actor.require_fresh(tenant, MANAGE)?;
    let secret = format!("{PREFIX}{}", random_token(32));
    let key = ApiKey::new(
        tenant.id,
        name,
        permissions,
        lifetime_days,
        secret[..PREFIX.len() + HINT_CHARS].to_owned(),
        sha256_hex(&secret),
        actor.audit_name(),
        Timestamp::now(),
    )?;
    if actor.grants().is_some_and(|g| !g.include(&key.permissions)) {
        return Err(AppError::Invalid(
            crate::domain::Invalid::new("A key cannot have a permission you do not hold yourself.")
                .on("permissions"),
        ));
    }
    let permissions: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
    let event = event_of(actor, tenant.id, "api_key.created", target(key.id)).reason(format!(
        "name={:?} permissions={} expires_at={}",
        key.name,
        permissions.join(","),
        key.expires_at.rfc3339()
    ));
    let change = state.store.api_keys.create(tenant.id, &key);
    audited(state, actor, event, change).await?;
    Ok(NewKey { key, secret })
}

/// Revokes a key of the tenant at once; `NotFound` for an unknown key, one of another tenant,
/// or one revoked already.
pub async fn revoke(state: &AppState, actor: &Actor, tenant: &Tenant, id: Uuid) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let event = event_of(actor, tenant.id, "api_key.revoked", target(id));
    let change = state.store.api_keys.revoke(tenant.id, id, Timestamp::now());
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Why a presented key was refused; said the same way to the caller whatever the reason
/// (the reason goes to the audit log).
#[derive(Debug, thiserror::Error)]
pub enum KeyRefused {
    #[error("the API key is not valid")]
    Refused,
    #[error(transparent)]
    Failed(#[from] AppError),
}

/// The actor for a key presented to `tenant`: active, of this tenant, with the key's
/// permissions. The use is audited, refused or not.
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    presented: &str,
    meta: RequestMeta,
) -> Result<Actor, KeyRefused> {
    let refuse = |target: Option<Uuid>, reason: &str| {
        let mut event = AuditEvent::new(tenant.id, "api_key.used", Outcome::Failure, "anonymous")
            .reason(reason);
        if let Some(id) = target {
            event = event.target(self::target(id));
        }
        event
    };
    if !looks_like_key(presented) {
        state.audit(refuse(None, "malformed key"), &meta).await;
        return Err(KeyRefused::Refused);
    }
    let hash = sha256_hex(presented);
    let Some(key) = state
        .store
        .api_keys
        .by_hash(tenant.id, &hash)
        .await
        .map_err(AppError::from)?
    else {
        state.audit(refuse(None, "unknown key"), &meta).await;
        return Err(KeyRefused::Refused);
    };
    let now = Timestamp::now();
    match key.status(now) {
        KeyStatus::Active => {}
        status => {
            let reason = status.label().to_lowercase();
            state.audit(refuse(Some(key.id), &reason), &meta).await;
            return Err(KeyRefused::Refused);
        }
    }
    state
        .store
        .api_keys
        .record_use(tenant.id, key.id, now, now.plus_secs(-USE_RECORD_SECS))
        .await
        .map_err(AppError::from)?;
    let holder = KeyHolder {
        tenant_id: tenant.id,
        credential: Credential::ApiKey(key.id),
        grants: Grants::exactly(&key.permissions),
        meta,
    };
    let actor = Actor::Key(holder);
    let event = AuditEvent::new(
        tenant.id,
        "api_key.used",
        Outcome::Success,
        actor.audit_name(),
    )
    .target(target(key.id));
    state.audit(event, &actor.meta()).await;
    Ok(actor)
}

fn target(id: Uuid) -> String {
    format!("api_key:{id}")
}
