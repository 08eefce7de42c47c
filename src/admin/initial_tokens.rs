//! Initial access tokens of a tenant (RFC 7591 §3): made in the console with a number of
//! registrations and an expiry and shown once, listed with their uses, revoked; and whether
//! applications may register without one. Every change is audited.

use super::{audited, event_of, Actor};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::registration::PREFIX;
use crate::domain::{InitialAccessToken, Tenant, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use uuid::Uuid;

const MANAGE: &str = "clients:manage";
/// Characters of the token after the prefix kept as its hint.
const HINT_CHARS: usize = 6;

/// A token just made: `secret` is the token itself, shown to its creator this once.
pub struct NewToken {
    pub token: InitialAccessToken,
    pub secret: String,
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
) -> AppResult<Vec<InitialAccessToken>> {
    actor.require(tenant, MANAGE)?;
    Ok(state.store.initial_tokens.list(tenant.id).await?)
}

/// Makes a token that registers at most `max_uses` applications within `lifetime_days`.
/// Handing out a way in is sensitive: it needs a recent sign-in.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    name: &str,
    max_uses: i64,
    lifetime_days: i64,
) -> AppResult<NewToken> {
    actor.require_fresh(tenant, MANAGE)?;
    let secret = format!("{PREFIX}{}", random_token(32));
    let token = InitialAccessToken::new(
        tenant.id,
        name,
        max_uses,
        lifetime_days,
        secret[..PREFIX.len() + HINT_CHARS].to_owned(),
        sha256_hex(&secret),
        actor.audit_name(),
        Timestamp::now(),
    )?;
    let event = event_of(actor, tenant.id, "initial_access_token.created", target(token.id))
        .reason(format!(
            "name={:?} max_uses={} expires_at={}",
            token.name,
            token.max_uses,
            token.expires_at.rfc3339()
        ));
    let change = state.store.initial_tokens.create(tenant.id, &token);
    audited(state, actor, event, change).await?;
    Ok(NewToken { token, secret })
}

/// Revokes a token at once; `NotFound` for an unknown token, one of another tenant, or one
/// revoked already. Applications it registered stay.
pub async fn revoke(state: &AppState, actor: &Actor, tenant: &Tenant, id: Uuid) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let event = event_of(actor, tenant.id, "initial_access_token.revoked", target(id));
    let change = state
        .store
        .initial_tokens
        .revoke(tenant.id, id, Timestamp::now());
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

fn target(id: Uuid) -> String {
    format!("initial_access_token:{id}")
}
