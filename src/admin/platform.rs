//! The platform console's use cases (`/admin`): the installation's operators list, create,
//! suspend, reactivate and delete tenants. Operators are the users of the reserved tenant
//! `_ops` (created with the first `tessera operator create`); they sign in there with the normal
//! sign-in pages. Every use case refuses anyone else before it touches storage, and every
//! change is audited in the `_ops` log and in the tenant's own.

use super::Actor;
use crate::auth::recovery::{send_password_link, PasswordLink};
use crate::domain::access::OWNER;
use crate::domain::{
    AuditEvent, Email, Outcome, Placement, Tenant, TenantId, TenantSlug, TenantStatus, User,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The most tenants one page of the list shows.
pub const PAGE_LIMIT: u32 = 100;

/// The operators' tenant, once the first operator was created.
pub async fn operators_tenant(state: &AppState) -> AppResult<Option<Tenant>> {
    let slug = TenantSlug::parse(TenantSlug::OPERATORS)?;
    Ok(state.store.tenants.by_slug(&slug).await?)
}

/// Allows operators only: the command line, or a person signed in to `_ops`. Returns the
/// operators' tenant when it exists (for the audit log).
async fn require_operator(state: &AppState, actor: &Actor) -> AppResult<Option<Tenant>> {
    let ops = operators_tenant(state).await?;
    if allowed(actor, ops.as_ref()) {
        Ok(ops)
    } else {
        Err(AppError::Forbidden)
    }
}

fn allowed(actor: &Actor, ops: Option<&Tenant>) -> bool {
    match actor {
        Actor::Cli => true,
        Actor::Member(m) => ops.is_some_and(|o| o.id == m.tenant_id),
        // Running the installation takes a person (or the command line), never a key.
        Actor::Key(_) => false,
    }
}

/// Records a platform change in the operators' log (`ops`) and in the tenant's own log
/// (`tenant`, unless it was just deleted). In a tenant's log the operator is named
/// `operator:{id}`: their user id belongs to `_ops`, not to the tenant.
async fn audit(
    state: &AppState,
    actor: &Actor,
    ops: Option<&Tenant>,
    tenant: Option<TenantId>,
    action: &str,
    target: String,
    detail: String,
) {
    let meta = actor.meta();
    let event = |tenant: TenantId, actor_name: String| {
        let event =
            AuditEvent::new(tenant, action, Outcome::Success, actor_name).target(target.clone());
        if detail.is_empty() {
            event
        } else {
            event.reason(detail.clone())
        }
    };
    if let Some(ops) = ops {
        state.audit(event(ops.id, actor.audit_name()), &meta).await;
    }
    if let Some(tenant) = tenant.filter(|t| ops.is_none_or(|o| o.id != *t)) {
        let name = match actor {
            Actor::Member(m) => format!("operator:{}", m.user_id),
            other => other.audit_name(),
        };
        state.audit(event(tenant, name), &meta).await;
    }
}

fn target(tenant: &Tenant) -> String {
    format!("tenant:{}", tenant.slug)
}

/// One page of the tenants in creation order, after the tenant `after`: all of them, or those
/// whose slug or name contains `search` (ignoring case) when it is not blank.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    search: &str,
    after: Option<TenantId>,
    limit: u32,
) -> AppResult<Vec<Tenant>> {
    require_operator(state, actor).await?;
    let search = search.trim();
    if search.chars().count() > 100 || search.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Search for at most 100 characters of a slug or name, on one line.",
        ));
    }
    let text = Some(search).filter(|s| !s.is_empty());
    Ok(state
        .store
        .tenants
        .list(text, after, limit.clamp(1, PAGE_LIMIT))
        .await?)
}

async fn find(state: &AppState, slug: &str) -> AppResult<Tenant> {
    let slug = TenantSlug::parse(slug.trim()).map_err(|_| AppError::NotFound)?;
    state
        .store
        .tenants
        .by_slug(&slug)
        .await?
        .ok_or(AppError::NotFound)
}

/// Creates the tenant `slug` and invites its first owner by email (a link to choose a
/// password). The reserved slugs are refused. `placement` is `shared` or `dedicated` (a
/// database of its own); empty, the installation's default (`TESSERA_TENANT_PLACEMENT`).
pub async fn create_tenant(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    name: &str,
    owner_email: &str,
    placement: &str,
) -> AppResult<(Tenant, User)> {
    let ops = require_operator(state, actor).await?;
    let mut tenant = Tenant::new(TenantSlug::parse_new(slug.trim())?, name)?;
    tenant.placement = match placement {
        "" => state.config.tenant_placement.clone(),
        chosen => Placement::parse(chosen)?,
    };
    let owner_email = Email::parse(owner_email).map_err(|e| e.on("owner_email"))?;
    let owner = User::new(tenant.id, owner_email, None)?;
    state
        .store
        .tenants
        .create(&tenant)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => {
                AppError::Conflict(format!("There is already a tenant {}.", tenant.slug))
            }
            other => other,
        })?;
    let provisioned = async {
        state.keys.ensure(tenant.id).await?;
        state
            .store
            .users
            .create(tenant.id, &owner, &[OWNER])
            .await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = provisioned {
        // Half a tenant helps nobody: take it away again, so the operator can simply retry.
        if let Err(cleanup) = state.store.tenants.delete(tenant.id).await {
            tracing::error!(tenant = %tenant.slug, error = %cleanup, "cannot remove a half-created tenant");
        }
        return Err(e);
    }
    send_password_link(state, &tenant, &owner, PasswordLink::Invitation).await?;
    audit(
        state,
        actor,
        ops.as_ref(),
        Some(tenant.id),
        "tenant.created",
        target(&tenant),
        format!(
            "name={} placement={}",
            tenant.name,
            tenant.placement.as_str()
        ),
    )
    .await;
    audit(
        state,
        actor,
        None,
        Some(tenant.id),
        "user.invited",
        format!("user:{}", owner.id),
        format!("role={OWNER}"),
    )
    .await;
    Ok((tenant, owner))
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    slug: &str,
    suspend: bool,
) -> AppResult<Tenant> {
    let ops = require_operator(state, actor).await?;
    let mut tenant = find(state, slug).await?;
    if tenant.slug.is_operators() {
        return Err(AppError::invalid(
            "The operators' tenant cannot be suspended: nobody could sign in to this console any more.",
        ));
    }
    let suspended = tenant.status == TenantStatus::Suspended;
    if suspended == suspend {
        return Err(AppError::Conflict(format!(
            "{} is already {}.",
            tenant.slug,
            if suspend { "suspended" } else { "active" }
        )));
    }
    tenant.status = if suspend {
        TenantStatus::Suspended
    } else {
        TenantStatus::Active
    };
    state.store.tenants.update(&tenant).await?;
    let action = if suspend {
        "tenant.suspended"
    } else {
        "tenant.reactivated"
    };
    audit(
        state,
        actor,
        ops.as_ref(),
        Some(tenant.id),
        action,
        target(&tenant),
        String::new(),
    )
    .await;
    Ok(tenant)
}

/// Suspends the tenant: its sign-in pages, authorization, token and userinfo endpoints refuse
/// until it is reactivated. Nothing is deleted.
pub async fn suspend(state: &AppState, actor: &Actor, slug: &str) -> AppResult<Tenant> {
    set_status(state, actor, slug, true).await
}

pub async fn reactivate(state: &AppState, actor: &Actor, slug: &str) -> AppResult<Tenant> {
    set_status(state, actor, slug, false).await
}

/// Deletes the tenant with everything in it (users, clients, keys, its audit log). `confirm`
/// must repeat the slug; the operators' tenant cannot be deleted. Needs a recent sign-in.
pub async fn delete(state: &AppState, actor: &Actor, slug: &str, confirm: &str) -> AppResult<()> {
    let ops = require_operator(state, actor).await?;
    if let Actor::Member(m) = actor {
        if !m.fresh {
            return Err(AppError::Reauthenticate);
        }
    }
    let tenant = find(state, slug).await?;
    if tenant.slug.is_operators() {
        return Err(AppError::invalid(
            "The operators' tenant cannot be deleted.",
        ));
    }
    if confirm.trim() != tenant.slug.as_str() {
        return Err(AppError::invalid(format!(
            "Type the tenant's slug, {}, to confirm the deletion.",
            tenant.slug
        )));
    }
    if !state.store.tenants.delete(tenant.id).await? {
        return Err(AppError::NotFound);
    }
    // The tenant's own log went with it: the operators' log keeps the record.
    audit(
        state,
        actor,
        ops.as_ref(),
        None,
        "tenant.deleted",
        target(&tenant),
        format!("name={} id={}", tenant.name, tenant.id),
    )
    .await;
    Ok(())
}

/// The operators' tenant, created on first use (the first `tessera operator create`).
async fn ensure_operators_tenant(state: &AppState, actor: &Actor) -> AppResult<Tenant> {
    if let Some(ops) = operators_tenant(state).await? {
        return Ok(ops);
    }
    let tenant = Tenant::new(TenantSlug::parse(TenantSlug::OPERATORS)?, "Operators")?;
    match state.store.tenants.create(&tenant).await {
        Ok(()) => {}
        // Another process created it at the same moment.
        Err(crate::store::StoreError::Conflict(_)) => {
            return operators_tenant(state)
                .await?
                .ok_or_else(|| AppError::internal("the operators' tenant vanished"));
        }
        Err(e) => return Err(e.into()),
    }
    state.keys.ensure(tenant.id).await?;
    audit(
        state,
        actor,
        Some(&tenant),
        None,
        "tenant.created",
        target(&tenant),
        "operators".into(),
    )
    .await;
    Ok(tenant)
}

/// Creates an operator (a user of `_ops` with its owner role) with a generated password,
/// returned to be shown once. Creates the `_ops` tenant the first time.
pub async fn create_operator(
    state: &AppState,
    actor: &Actor,
    email: &str,
    name: Option<&str>,
) -> AppResult<(Tenant, User, String)> {
    require_operator(state, actor).await?;
    let email = Email::parse(email)?;
    let ops = ensure_operators_tenant(state, actor).await?;
    let password = crate::crypto::random_token(18);
    let mut user = User::new(ops.id, email, Some(name.unwrap_or("Operator")))?;
    user.password_hash = Some(state.passwords.hash(password.clone()).await?);
    user.email_verified = true;
    state
        .store
        .users
        .create(ops.id, &user, &[OWNER])
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => {
                AppError::Conflict(format!("{} is already an operator.", user.email))
            }
            other => other,
        })?;
    audit(
        state,
        actor,
        Some(&ops),
        None,
        "operator.created",
        format!("user:{}", user.id),
        String::new(),
    )
    .await;
    Ok((ops, user, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Member;
    use crate::domain::{Grants, UserId};

    #[test]
    fn operators_are_the_cli_and_members_of_ops() {
        let ops = Tenant::new(TenantSlug::parse("_ops").unwrap(), "Operators").unwrap();
        let acme = Tenant::new(TenantSlug::parse("acme").unwrap(), "Acme").unwrap();
        let member = |tenant: &Tenant| {
            Actor::Member(Member {
                tenant_id: tenant.id,
                user_id: UserId::generate(),
                email: "a@example.com".into(),
                grants: Grants::of(&[]),
                fresh: true,
                meta: Default::default(),
            })
        };
        assert!(allowed(&Actor::Cli, None));
        assert!(allowed(&member(&ops), Some(&ops)));
        assert!(!allowed(&member(&acme), Some(&ops)));
        assert!(!allowed(&member(&acme), None));
    }
}
