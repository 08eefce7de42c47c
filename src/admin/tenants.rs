use super::{audit, audit_with, audited, event_of, Actor};
use crate::domain::{FactorKind, Placement, Tenant, TenantSettings, TenantSlug, TenantStatus};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::cached::STALE_SECS;
use crate::store::placement::{Moved, Placements};
use crate::store::StoreError;
use std::time::Duration;

/// Creates a tenant where the installation places new ones (`TESSERA_TENANT_PLACEMENT`); the
/// reserved slugs (`_ops`, `_platforms`) are refused.
pub async fn create(state: &AppState, actor: &Actor, slug: &str, name: &str) -> AppResult<Tenant> {
    let placement = state.config.tenant_placement.clone();
    create_placed(state, actor, slug, name, placement).await
}

/// Creates a tenant whose data lives as `placement` says: in the main database, or in a new
/// database of its own.
pub async fn create_placed(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    name: &str,
    placement: Placement,
) -> AppResult<Tenant> {
    let mut tenant = Tenant::new(TenantSlug::parse_new(slug)?, name)?;
    tenant.placement = placement;
    state.store.tenants.create(&tenant).await?;
    // As stored: a new database's settings are the store's to fill in.
    let tenant = state
        .store
        .tenants
        .by_id(tenant.id)
        .await?
        .ok_or(AppError::NotFound)?;
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
    let s = &changed.settings;
    let detail = format!(
        "session={}s idle={}s password_min={} block_common={} self_signup={} open_registration={} require_mfa={} factors={} access_token={}s refresh_idle={}s refresh_absolute={}s",
        s.session_lifetime_secs,
        s.session_idle_timeout_secs,
        s.password_min_length,
        s.block_common_passwords,
        s.self_signup,
        s.open_registration,
        s.require_mfa,
        s.allowed_factors.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
        s.access_token_secs,
        s.refresh_idle_secs,
        s.refresh_absolute_secs,
    );
    let event = event_of(
        actor,
        tenant.id,
        "tenant.policy_changed",
        format!("tenant:{}", tenant.slug),
    )
    .reason(detail);
    audited(state, actor, event, state.store.tenants.update(&changed)).await?;
    Ok(changed)
}

/// Moves the tenant `slug` to `to`: from the main database to a new one of its own, or back
/// (`tessera tenant move`). Its data is copied while it serves; it is suspended only while
/// what changed meanwhile is copied and the registry switches. `None` when it is there
/// already.
pub async fn relocate(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    to: Placement,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> AppResult<Option<Moved>> {
    let tenant = find(state, slug).await?;
    let placements = placements(state)?;
    if tenant.placement.is_dedicated() == to.is_dedicated() {
        return Ok(None);
    }
    // After a first copy while it serves, suspended: nothing of the tenant changes while
    // what changed meanwhile is copied. Every process sees that within the caches' bound.
    let held = std::sync::Mutex::new(None);
    let freeze = async {
        let mut now = state
            .store
            .tenants
            .by_id(tenant.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        *held.lock().expect("not poisoned") = Some(now.status);
        now.status = TenantStatus::Suspended;
        state.store.tenants.update(&now).await?;
        progress(&format!(
            "Suspended {} to copy what changed meanwhile; waiting {STALE_SECS}s for every server to see it",
            tenant.slug
        ));
        tokio::time::sleep(Duration::from_secs(STALE_SECS + 1)).await;
        Ok(())
    };
    let moved = placements
        .move_tenant(tenant.id, to.clone(), freeze, progress)
        .await;
    let held = held.lock().expect("not poisoned").take();
    if let Some(status) = held {
        let mut now = state
            .store
            .tenants
            .by_id(tenant.id)
            .await?
            .ok_or(AppError::NotFound)?;
        now.status = status;
        state.store.tenants.update(&now).await?;
    }
    let moved = moved?;
    if let Some(moved) = &moved {
        audit_with(
            state,
            actor,
            tenant.id,
            "tenant.moved",
            format!("tenant:{}", tenant.slug),
            format!(
                "to={} people={} clients={} events={}",
                to.as_str(),
                moved.people,
                moved.clients,
                moved.events
            ),
        )
        .await;
    }
    Ok(moved)
}

/// Opens every tenant's own database, which migrates it (`tessera migrate --all`); tells
/// `progress` about each and returns how many there are.
pub async fn open_every_database(
    state: &AppState,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> AppResult<usize> {
    let placements = placements(state)?;
    let (mut after, mut opened) = (None, 0);
    loop {
        let page = state.store.tenants.list(None, after, 200).await?;
        let Some(last) = page.last() else {
            return Ok(opened);
        };
        after = Some(last.id);
        for tenant in page.iter().filter(|t| t.placement.is_dedicated()) {
            placements.open_database(tenant.id).await?;
            opened += 1;
            progress(&format!("{}: its database is up to date", tenant.slug));
        }
    }
}

fn placements(state: &AppState) -> AppResult<&Placements> {
    state
        .store
        .placements
        .as_deref()
        .ok_or_else(|| AppError::Internal("storage without tenant placement".into()))
}
