use super::{audit, Actor};
use crate::domain::{FactorKind, Tenant, TenantSettings, TenantSlug};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Creates a tenant; the reserved slugs (`_ops`, `_platforms`) are refused.
pub async fn create(state: &AppState, actor: &Actor, slug: &str, name: &str) -> AppResult<Tenant> {
    let tenant = Tenant::new(TenantSlug::parse_new(slug)?, name)?;
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

/// Changes the tenant's sign-in policy: whether a second factor is required, and which kinds
/// may be used (`None` leaves each as it is).
pub async fn set_mfa_policy(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    require_mfa: Option<bool>,
    allowed: Option<Vec<FactorKind>>,
) -> AppResult<Tenant> {
    let mut changed = tenant.clone();
    if let Some(require) = require_mfa {
        changed.settings.require_mfa = require;
    }
    if let Some(allowed) = allowed {
        if allowed.is_empty() || allowed.contains(&FactorKind::BackupCodes) {
            return Err(AppError::invalid(
                "Allow at least one of totp, email_code, passkey (backup codes always come with them).",
            ));
        }
        changed.settings.allowed_factors = allowed;
    }
    state.store.tenants.update(&changed).await?;
    let detail = format!(
        "require_mfa={} factors={}",
        changed.settings.require_mfa,
        changed
            .settings
            .allowed_factors
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let event = crate::domain::AuditEvent::new(
        tenant.id,
        "tenant.policy_changed",
        crate::domain::Outcome::Success,
        actor.audit_name(),
    )
    .target(format!("tenant:{}", tenant.slug))
    .reason(detail);
    state
        .audit(event, &crate::domain::RequestMeta::default())
        .await;
    Ok(changed)
}

/// The tenant `slug`, or a plain-language error naming it.
pub async fn find(state: &AppState, slug: &str) -> AppResult<Tenant> {
    let parsed = TenantSlug::parse(slug)?;
    state
        .store
        .tenants
        .by_slug(&parsed)
        .await?
        .ok_or_else(|| crate::error::AppError::invalid(format!("there is no tenant {slug:?}")))
}

/// Replaces the tenant's policies (sign-in lifetimes, password rules, second factors, token
/// lifetimes) after checking each bound; a sensitive change, so it needs a fresh sign-in.
pub async fn update_policies(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    settings: TenantSettings,
) -> AppResult<Tenant> {
    actor.require_fresh(tenant, "settings:manage")?;
    settings.validate()?;
    let mut changed = tenant.clone();
    changed.settings = settings;
    state.store.tenants.update(&changed).await?;
    let s = &changed.settings;
    let detail = format!(
        "session={}s idle={}s password_min={} block_common={} self_signup={} require_mfa={} factors={} access_token={}s refresh_idle={}s refresh_absolute={}s",
        s.session_lifetime_secs,
        s.session_idle_timeout_secs,
        s.password_min_length,
        s.block_common_passwords,
        s.self_signup,
        s.require_mfa,
        s.allowed_factors.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
        s.access_token_secs,
        s.refresh_idle_secs,
        s.refresh_absolute_secs,
    );
    super::audit_with(
        state,
        actor,
        tenant.id,
        "tenant.policy_changed",
        format!("tenant:{}", tenant.slug),
        detail,
    )
    .await;
    Ok(changed)
}
