//! "Forgot password": a single-use link by email that sets a new password. The link proves
//! control of the mailbox only, so it never signs the person in: the next sign-in still asks
//! for their second factor (or a backup code). Security questions are deliberately not offered
//! (NIST SP 800-63B §5.1.1.2).

use super::{account, audit, own_event};
use super::{mfa, one_time};
use crate::domain::RequestMeta;
use crate::domain::{Email, Outcome, Tenant, User};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const RESET_KIND: &str = "password_reset";
/// A reset link works for 30 minutes.
const RESET_LINK_SECS: i64 = 1800;
/// An invitation works for 7 days.
const INVITATION_LINK_SECS: i64 = 7 * 24 * 3600;

/// Sends a reset link when the address belongs to an active account. The caller shows the same
/// answer either way (no user enumeration), and the mail goes out in the background, so timing
/// does not tell either.
pub async fn request_reset(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    raw_email: &str,
) -> AppResult<()> {
    let email = Email::parse(raw_email)?;
    if flooded(state, meta, tenant, "reset", &email).await? {
        return Ok(());
    }
    let Some(user) = state
        .store
        .users
        .by_email(tenant.id, email.as_str())
        .await?
    else {
        return Ok(());
    };
    if !user.can_sign_in() {
        return Ok(());
    }
    send_password_link(state, tenant, &user, PasswordLink::Reset).await?;
    audit(
        state,
        meta,
        tenant,
        &user,
        "recovery.requested",
        Outcome::Success,
        "",
    )
    .await;
    Ok(())
}

/// Whether mail of `purpose` to `email` was asked for too often; every call counts, so one
/// address (or one IP) cannot be flooded with mail. Floods are dropped quietly: the answer must
/// look the same as for any other address.
pub async fn flooded(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    purpose: &str,
    email: &Email,
) -> AppResult<bool> {
    let key = crate::state::throttle::LoginThrottle::account_key(&format!("{purpose}:{email}"));
    let ip = meta.ip.as_deref();
    if state
        .throttle
        .wait_time(tenant.id, &key, ip)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    state.throttle.record_failure(tenant.id, &key, ip).await?;
    Ok(false)
}

/// Why a person gets a link to set their password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordLink {
    /// They asked for it ("Forgot password"), or an admin made them choose a new one.
    Reset,
    /// An admin created their account.
    Invitation,
    /// They signed up themselves.
    Welcome,
}

/// Mails `user` a single-use link to set a password (stored hashed, like every one-time link).
pub async fn send_password_link(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    purpose: PasswordLink,
) -> AppResult<()> {
    let claim = one_time::LinkClaim {
        user_id: user.id,
        email: user.email.to_string(),
    };
    let lifetime = match purpose {
        PasswordLink::Reset => RESET_LINK_SECS,
        PasswordLink::Invitation | PasswordLink::Welcome => INVITATION_LINK_SECS,
    };
    let token = one_time::issue_link(state, tenant.id, RESET_KIND, &claim, lifetime).await?;
    let link = format!(
        "{}/reset-password?token={token}",
        state.config.issuer(tenant.slug.as_str())
    );
    let (subject, body, what) = match purpose {
        PasswordLink::Reset => (
            format!("Reset your {} password", tenant.name),
            format!("Hello,\n\nSomeone (hopefully you) asked to reset the password of this account. Open this link to choose a new one:\n\n{link}\n\nThe link works once, for 30 minutes. If you did not ask for it, ignore this email: your password stays as it is.\n"),
            "password reset",
        ),
        PasswordLink::Invitation => (
            format!("You are invited to {}", tenant.name),
            format!("Hello,\n\nAn administrator of {} created an account for you. Open this link to choose your password:\n\n{link}\n\nThe link works once, for 7 days.\n", tenant.name),
            "invitation",
        ),
        PasswordLink::Welcome => (
            format!("Finish signing up to {}", tenant.name),
            format!("Hello,\n\nSomeone (hopefully you) signed up to {} with this address. Open this link to choose your password and finish:\n\n{link}\n\nThe link works once, for 7 days. If it was not you, ignore this email: no account is used without it.\n", tenant.name),
            "sign-up",
        ),
    };
    state.mailer.send(&user.email, &subject, body, what);
    Ok(())
}

/// The account a reset link is for, while it is valid.
pub async fn reset_link_email(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> AppResult<Option<String>> {
    Ok(
        one_time::read_link(state, tenant.id, RESET_KIND, token, false)
            .await?
            .map(|c| c.email),
    )
}

/// Sets the new password from a valid link and ends every sign-in of the account. False when
/// the link is unknown, expired or used.
pub async fn reset_password(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    token: &str,
    new_password: String,
) -> AppResult<bool> {
    crate::state::password::check_policy(&new_password, &tenant.settings)
        .map_err(AppError::invalid)?;
    let Some(claim) = one_time::read_link(state, tenant.id, RESET_KIND, token, true).await? else {
        return Ok(false);
    };
    let Some(user) = state.store.users.by_id(tenant.id, claim.user_id).await? else {
        return Ok(false);
    };
    if !user.can_sign_in() || user.email.as_str() != claim.email {
        return Ok(false);
    }
    // The link came by email, so following it proves the address.
    let verified = User {
        email_verified: true,
        ..user.clone()
    };
    let event = own_event(
        tenant,
        &user,
        "recovery.password_reset",
        Outcome::Success,
        "every sign-in ended",
    );
    account::set_password(state, meta, tenant, &verified, new_password, event).await?;
    account::end_other_sign_ins(state, tenant, &user, None).await?;
    mfa::notify(
        state,
        tenant,
        &user,
        "Your password was reset with a link sent to this address.",
    );
    Ok(true)
}
