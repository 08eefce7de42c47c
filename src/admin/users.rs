use super::{audit, Actor};
use crate::auth::password::check_policy;
use crate::domain::{Email, Tenant, User};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub password: Option<String>,
    pub admin: bool,
}

/// Built-in role of a tenant's first administrator; the console issue adds the full role model.
pub const OWNER_ROLE: &str = "owner";
pub const ADMIN_ROLE: &str = "admin";

pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    new: NewUser<'_>,
) -> AppResult<User> {
    let email = Email::parse(new.email)?;
    let mut user = User::new(tenant.id, email, new.name)?;
    if let Some(password) = new.password {
        check_policy(&password).map_err(AppError::Invalid)?;
        if password.trim().eq_ignore_ascii_case(user.email.as_str()) {
            return Err(AppError::Invalid(
                "The password cannot be the email address.".into(),
            ));
        }
        user.password_hash = Some(state.passwords.hash(password).await?);
    }
    let roles: &[&str] = if new.admin { &[ADMIN_ROLE] } else { &[] };
    state.store.users.create(tenant.id, &user, roles).await?;
    audit(
        state,
        actor,
        tenant.id,
        "user.created",
        format!("user:{}", user.id),
    )
    .await;
    Ok(user)
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
        .ok_or_else(|| AppError::Invalid(format!("there is no user {email} in {}", tenant.slug)))?;
    crate::auth::mfa::reset(
        state,
        &crate::http::RequestMeta::default(),
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
    state
        .store
        .users
        .create(tenant.id, &user, &[OWNER_ROLE])
        .await?;
    audit(
        state,
        &Actor::Cli,
        tenant.id,
        "user.created",
        format!("user:{}", user.id),
    )
    .await;
    Ok((user, password))
}
