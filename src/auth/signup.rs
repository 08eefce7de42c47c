//! Self sign-up, where the tenant allows it: people give their email address (and name) and get
//! a link to choose their password; following it proves the address. The answer is the same
//! whether or not an account exists (no enumeration): the owner of an existing account is told
//! by email instead.

use super::own_event;
use super::recovery::{flooded, send_password_link, PasswordLink};
use crate::domain::RequestMeta;
use crate::domain::{Email, Outcome, Tenant, User};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub async fn request(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    raw_email: &str,
    name: &str,
) -> AppResult<()> {
    if !tenant.settings.self_signup {
        return Err(AppError::Forbidden);
    }
    let email = Email::parse(raw_email)?;
    let user = User::new(tenant.id, email.clone(), Some(name))?;
    if flooded(state, meta, tenant, "signup", &email).await? {
        return Ok(());
    }
    if let Some(existing) = state
        .store
        .users
        .by_email(tenant.id, email.as_str())
        .await?
    {
        state.mailer.send(
            &existing.email,
            &format!("You already have an account at {}", tenant.name),
            format!("Hello,\n\nSomeone (hopefully you) tried to sign up to {} with this address, which already has an account. Sign in, or use \"Forgot your password?\" on the sign-in page.\n", tenant.name),
            "sign-up (existing account)",
        );
        return Ok(());
    }
    let event = own_event(tenant, &user, "user.signed_up", Outcome::Success, "");
    let create = state.store.users.create(tenant.id, &user, &[]);
    state.audited(event, meta, create).await?;
    send_password_link(state, tenant, &user, PasswordLink::Welcome).await?;
    Ok(())
}
