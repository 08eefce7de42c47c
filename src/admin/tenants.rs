use super::{audit, Actor};
use crate::domain::{Tenant, TenantSlug};
use crate::error::AppResult;
use crate::state::AppState;

pub async fn create(state: &AppState, actor: &Actor, slug: &str, name: &str) -> AppResult<Tenant> {
    let tenant = Tenant::new(TenantSlug::parse(slug)?, name)?;
    state.store.tenants.create(&tenant).await?;
    state.keys.ensure(tenant.id).await?;
    audit(
        state,
        actor,
        tenant.id,
        "tenant.created",
        format!("tenant:{}", tenant.slug),
    )
    .await;
    Ok(tenant)
}

/// The tenant `slug`, or a plain-language error naming it.
pub async fn find(state: &AppState, slug: &str) -> AppResult<Tenant> {
    let parsed = TenantSlug::parse(slug)?;
    state
        .store
        .tenants
        .by_slug(&parsed)
        .await?
        .ok_or_else(|| crate::error::AppError::Invalid(format!("there is no tenant {slug:?}")))
}
