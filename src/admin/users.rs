//! Users of a tenant: the console's list and user page, and every change an admin makes to
//! someone's account.

use super::access::{self, keep_an_owner, Loss};
use super::{audit, audited, event_of, Actor};
use crate::auth::account::{end_other_sign_ins, withdraw_consent};
use crate::auth::recovery::{send_password_link, PasswordLink};
use crate::domain::access::{ADMIN, OWNER};
use crate::domain::{AuditEvent, Email, Invalid, Role, Tenant, Timestamp, User, UserId};
use crate::error::{AppError, AppResult};
use crate::state::password::check_policy;
use crate::state::AppState;
use crate::store::UserQuery;

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// `None`: the person is invited by email to choose one.
    pub password: Option<String>,
    pub admin: bool,
}

/// The most users one page of the list shows.
pub const PAGE_LIMIT: u32 = 100;

pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    new: NewUser<'_>,
) -> AppResult<User> {
    actor.require(tenant, "users:write")?;
    let roles: &[&str] = if new.admin { &[ADMIN] } else { &[] };
    if new.admin {
        let admin: Vec<Role> = Role::built_in()
            .into_iter()
            .filter(|r| r.id == ADMIN)
            .collect();
        actor.outranks(&admin)?;
    }
    let email = Email::parse(new.email)?;
    let mut user = User::new(tenant.id, email, new.name)?;
    if let Some(password) = new.password {
        check_policy(&password, &tenant.settings).map_err(|m| Invalid::new(m).on("password"))?;
        if password.trim().eq_ignore_ascii_case(user.email.as_str()) {
            let same = Invalid::new("The password cannot be the email address.");
            return Err(same.on("password").into());
        }
        user.password_hash = Some(state.passwords.hash(password).await?);
    }
    let invite = user.password_hash.is_none();
    let action = if invite {
        "user.invited"
    } else {
        "user.created"
    };
    let event = event_of(actor, tenant.id, action, target(&user));
    let change = state.store.users.create(tenant.id, &user, roles);
    audited(state, actor, event, change).await?;
    if invite {
        send_password_link(state, tenant, &user, PasswordLink::Invitation).await?;
    }
    Ok(user)
}

fn target(user: &User) -> String {
    format!("user:{}", user.id)
}

/// One page of the list, newest first; `before` is the last id of the previous page.
pub async fn search(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    query: &UserQuery,
    before: Option<UserId>,
    limit: u32,
) -> AppResult<Vec<User>> {
    actor.require(tenant, "users:read")?;
    if query.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::invalid("Search for at most 200 characters."));
    }
    Ok(state
        .store
        .users
        .search(tenant.id, query, before, limit.clamp(1, PAGE_LIMIT))
        .await?)
}

/// The user `id` of this tenant; `NotFound` for an id of another tenant.
pub async fn get(state: &AppState, actor: &Actor, tenant: &Tenant, id: UserId) -> AppResult<User> {
    actor.require(tenant, "users:read")?;
    state
        .store
        .users
        .by_id(tenant.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Finds the user an admin may change: they hold `users:write`, and at least every permission
/// the user holds (an admin cannot touch an owner).
async fn writable(state: &AppState, actor: &Actor, tenant: &Tenant, id: UserId) -> AppResult<User> {
    actor.require(tenant, "users:write")?;
    let user = get(state, actor, tenant, id).await?;
    actor.outranks(&access::effective_roles(state, tenant, id).await?)?;
    Ok(user)
}

/// Changes of one's own account go through the account page, where the current password is
/// asked: the console refuses them, so nobody blocks or deletes themselves by a slip.
fn not_self(actor: &Actor, id: UserId) -> AppResult<()> {
    if actor.user_id() == Some(id) {
        return Err(AppError::invalid(
            "You cannot do this to your own account here; use your account page.",
        ));
    }
    Ok(())
}

pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
    email: &str,
    name: &str,
) -> AppResult<User> {
    let mut user = writable(state, actor, tenant, id).await?;
    let email = Email::parse(email)?;
    let name = User::check_name(name)?;
    if email != user.email {
        user.email_verified = false;
    }
    user.email = email;
    user.name = name;
    user.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "user.updated", target(&user));
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    Ok(user)
}

/// Sets (or with an empty `raw`, removes) the id a provisioning system knows the user by.
pub async fn set_external_id(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
    raw: &str,
) -> AppResult<User> {
    let mut user = writable(state, actor, tenant, id).await?;
    let external_id = User::check_external_id(raw)?;
    if external_id == user.external_id {
        return Ok(user);
    }
    user.external_id = external_id;
    user.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "user.updated", target(&user)).reason(format!(
        "external_id={:?}",
        user.external_id.as_deref().unwrap_or_default()
    ));
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    Ok(user)
}

/// Blocks (ending every sign-in) or unblocks the user.
pub async fn set_blocked(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
    blocked: bool,
) -> AppResult<User> {
    not_self(actor, id)?;
    let mut user = writable(state, actor, tenant, id).await?;
    let _owner_kept = if blocked {
        Some(keep_an_owner(state, tenant, Loss::User(id)).await?)
    } else {
        None
    };
    user.blocked = blocked;
    user.updated_at = Timestamp::now();
    let action = if blocked {
        "user.blocked"
    } else {
        "user.unblocked"
    };
    let event = event_of(actor, tenant.id, action, target(&user));
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    if blocked {
        end_other_sign_ins(state, tenant, &user, None).await?;
    }
    Ok(user)
}

/// Ends every sign-in of the user, with the tokens bound to them; returns how many ended.
pub async fn sign_out_everywhere(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<usize> {
    let user = writable(state, actor, tenant, id).await?;
    let ended = end_other_sign_ins(state, tenant, &user, None).await?;
    audit(state, actor, tenant.id, "user.signed_out", target(&user)).await;
    Ok(ended)
}

/// Removes the password, ends every sign-in and mails a link to choose a new one.
pub async fn force_password_reset(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<()> {
    not_self(actor, id)?;
    let mut user = writable(state, actor, tenant, id).await?;
    user.password_hash = None;
    user.updated_at = Timestamp::now();
    let event = event_of(
        actor,
        tenant.id,
        "user.password_reset_forced",
        target(&user),
    );
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    end_other_sign_ins(state, tenant, &user, None).await?;
    send_password_link(state, tenant, &user, PasswordLink::Reset).await?;
    Ok(())
}

/// Removes every second factor of the user; the reason is audited and the person emailed.
pub async fn reset_factors(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
    reason: &str,
) -> AppResult<u64> {
    actor.require_fresh(tenant, "users:write")?;
    let user = writable(state, actor, tenant, id).await?;
    let reason = AuditEvent::check_reason(reason)?;
    crate::auth::mfa::reset(
        state,
        &actor.meta(),
        tenant,
        &user,
        &actor.audit_name(),
        &reason,
    )
    .await
}

/// Soft delete: the account can no longer sign in, and can be restored.
pub async fn soft_delete(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<User> {
    actor.require_fresh(tenant, "users:write")?;
    not_self(actor, id)?;
    let mut user = writable(state, actor, tenant, id).await?;
    let _owner_kept = keep_an_owner(state, tenant, Loss::User(id)).await?;
    user.deleted_at = Some(Timestamp::now());
    user.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "user.deleted", target(&user));
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    end_other_sign_ins(state, tenant, &user, None).await?;
    Ok(user)
}

pub async fn restore(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<User> {
    let mut user = writable(state, actor, tenant, id).await?;
    user.deleted_at = None;
    user.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "user.restored", target(&user));
    let change = state.store.users.update(tenant.id, &user);
    audited(state, actor, event, change).await?;
    Ok(user)
}

/// Deletes the user for good, with their sign-ins, tokens, consents, factors, roles and team
/// memberships. The audit log keeps what they did.
pub async fn hard_delete(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<()> {
    actor.require_fresh(tenant, "users:write")?;
    not_self(actor, id)?;
    let user = writable(state, actor, tenant, id).await?;
    let _owner_kept = keep_an_owner(state, tenant, Loss::User(id)).await?;
    end_other_sign_ins(state, tenant, &user, None).await?;
    let event = event_of(actor, tenant.id, "user.purged", target(&user))
        .reason(format!("email={}", user.email));
    if !audited(state, actor, event, state.store.users.delete(tenant.id, id)).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Removes every second factor of the user with `email`, for a person who lost them all; the
/// reason goes into the audit log. Returns how many factors were removed.
pub async fn reset_mfa(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    email: &str,
    reason: &str,
) -> AppResult<u64> {
    let email = Email::parse(email)?;
    let user = state
        .store
        .users
        .by_email(tenant.id, email.as_str())
        .await?
        .ok_or_else(|| AppError::invalid(format!("there is no user {email} in {}", tenant.slug)))?;
    crate::auth::mfa::reset(
        state,
        &crate::domain::RequestMeta::default(),
        tenant,
        &user,
        &actor.audit_name(),
        reason,
    )
    .await
}

/// The first administrator of a new installation, with a generated password shown once.
pub async fn create_first_owner(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
) -> AppResult<(User, String)> {
    let password = crate::crypto::random_token(18);
    let mut user = User::new(tenant.id, Email::parse(email)?, Some("Administrator"))?;
    user.password_hash = Some(state.passwords.hash(password.clone()).await?);
    user.email_verified = true;
    let event = event_of(&Actor::Cli, tenant.id, "user.created", target(&user));
    let create = state.store.users.create(tenant.id, &user, &[OWNER]);
    audited(state, &Actor::Cli, event, create).await?;
    Ok((user, password))
}

/// Withdraws the user's consent to an application and ends what it allowed: every token the
/// application holds for them is revoked, and its next sign-in there asks again. Returns how
/// many tokens were revoked.
pub async fn revoke_consent(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
    client_id: &str,
) -> AppResult<u64> {
    let user = writable(state, actor, tenant, id).await?;
    let by = actor.audit_name();
    withdraw_consent(state, &actor.meta(), tenant, user.id, client_id, by)
        .await?
        .ok_or(AppError::NotFound)
}

/// Everything kept about one user, for a request from that person (GDPR Art. 15): what they
/// would download themselves, with the audit history only for an actor who may read the log
/// (as on the user's page). Audited as `user.data_exported`.
pub async fn export_data(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: UserId,
) -> AppResult<serde_json::Value> {
    let user = get(state, actor, tenant, id).await?;
    let with_history = actor.require(tenant, "audit:read").is_ok();
    let data = crate::auth::export::personal_data(state, tenant, &user, with_history).await?;
    audit(state, actor, tenant.id, "user.data_exported", target(&user)).await;
    Ok(data)
}
