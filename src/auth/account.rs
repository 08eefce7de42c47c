//! What a signed-in person does to their own account: change the password, end sign-ins, and
//! prove a recent sign-in before sensitive changes.

use super::{audit, mfa, one_time, own_event};
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Consent, Outcome, Tenant, Timestamp, User, UserId, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Changing factors needs a sign-in at most this old (a stolen, idle session is not enough).
pub const RECENT_AUTH_SECS: i64 = 600;
/// An email verification link works this long.
const VERIFY_LINK_SECS: i64 = 24 * 3600;
pub const VERIFY_EMAIL_KIND: &str = "verify_email";

pub fn is_recent(session: &UserSession) -> bool {
    !session
        .auth_time
        .plus_secs(RECENT_AUTH_SECS)
        .is_before(Timestamp::now())
}

/// Sets a new password after checking the current one; every other sign-in of the person ends.
pub async fn change_password(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    current_session: &UserSession,
    current: String,
    new: String,
) -> AppResult<()> {
    let key = crate::state::throttle::LoginThrottle::account_key(user.email.as_str());
    let ip = meta.ip.as_deref();
    if let Some(wait) = state.throttle.wait_time(tenant.id, &key, ip).await? {
        return Err(AppError::invalid(format!(
            "Too many attempts. Wait {} seconds and try again.",
            wait.as_secs().max(1)
        )));
    }
    let right = current.len() <= 1024
        && state
            .passwords
            .verify(current, user.password_hash.clone())
            .await?;
    if !right {
        state.throttle.record_failure(tenant.id, &key, ip).await?;
        audit(
            state,
            meta,
            tenant,
            user,
            "account.password_changed",
            Outcome::Failure,
            "wrong current password",
        )
        .await;
        return Err(AppError::invalid("Your current password is not right."));
    }
    crate::state::password::check_policy(&new, &tenant.settings).map_err(AppError::invalid)?;
    let event = own_event(
        tenant,
        user,
        "account.password_changed",
        Outcome::Success,
        "other sign-ins ended",
    );
    set_password(state, meta, tenant, user, new, event).await?;
    end_other_sign_ins(state, tenant, user, Some(&current_session.id)).await?;
    mfa::notify(state, tenant, user, "Your password was changed.");
    Ok(())
}

/// Stores a new password hash for the person.
pub async fn set_password(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    new: String,
    event: AuditEvent,
) -> AppResult<()> {
    let mut changed = user.clone();
    changed.password_hash = Some(state.passwords.hash(new).await?);
    changed.updated_at = Timestamp::now();
    let update = state.store.users.update(tenant.id, &changed);
    Ok(state.audited(event, meta, update).await?)
}

/// Ends every sign-in of the person except `keep`, with the tokens bound to them; returns how
/// many ended.
pub async fn end_other_sign_ins(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    keep: Option<&str>,
) -> AppResult<usize> {
    let now = Timestamp::now();
    let sessions = state
        .store
        .sessions
        .of_user(tenant.id, user.id, now)
        .await?;
    let mut ended = 0;
    for s in sessions.iter().filter(|s| Some(s.id.as_str()) != keep) {
        end_sign_in(state, tenant, s).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Ends one sign-in and revokes the tokens bound to it.
pub async fn end_sign_in(
    state: &AppState,
    tenant: &Tenant,
    session: &UserSession,
) -> AppResult<()> {
    let now = Timestamp::now();
    state
        .store
        .sessions
        .revoke(tenant.id, &session.id, now)
        .await?;
    state
        .store
        .artifacts
        .revoke_session_tokens(tenant.id, &session.id, now)
        .await?;
    Ok(())
}

/// The applications a person allowed, with the names they are shown by (the client id when
/// the application is gone), in client-id order.
pub async fn allowed_apps(
    state: &AppState,
    tenant: &Tenant,
    user: UserId,
) -> AppResult<Vec<(Consent, String)>> {
    let mut apps = Vec::new();
    for consent in state.store.consents.of_user(tenant.id, user).await? {
        let name = state
            .store
            .clients
            .by_client_id(tenant.id, &consent.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_else(|| consent.client_id.clone());
        apps.push((consent, name));
    }
    Ok(apps)
}

/// Withdraws a person's consent to an application and ends what it allowed: every token the
/// application holds for them is revoked, and it asks again next time. `None` when there was
/// no consent; otherwise how many tokens were revoked.
pub async fn withdraw_consent(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: UserId,
    client_id: &str,
    by: String,
) -> AppResult<Option<u64>> {
    let event = AuditEvent::new(tenant.id, "consent.revoked", Outcome::Success, by)
        .target(format!("user:{user}"))
        .reason(format!("client={client_id}"));
    let revoke = state.store.consents.revoke(tenant.id, user, client_id);
    if !state.audited(event, meta, revoke).await? {
        return Ok(None);
    }
    let revoked = state
        .store
        .artifacts
        .revoke_grant(tenant.id, user, client_id, Timestamp::now())
        .await?;
    Ok(Some(revoked))
}

/// Emails a link that confirms the person can read mail at their address.
pub async fn send_verification(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<()> {
    let claim = one_time::LinkClaim {
        user_id: user.id,
        email: user.email.to_string(),
    };
    let token = one_time::issue_link(
        state,
        tenant.id,
        VERIFY_EMAIL_KIND,
        &claim,
        VERIFY_LINK_SECS,
    )
    .await?;
    let link = format!(
        "{}/verify-email?token={token}",
        state.config.issuer(tenant.slug.as_str())
    );
    state.mailer.send(
        &user.email,
        &format!("Confirm your email address for {}", tenant.name),
        format!("Hello,\n\nOpen this link to confirm that this is your email address:\n\n{link}\n\nThe link works once, for 24 hours.\n"),
        "email verification",
    );
    Ok(())
}

/// Marks the address of a verification link as verified; false when the link is not valid
/// (or the account's address changed since it was sent).
pub async fn verify_email(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    token: &str,
) -> AppResult<bool> {
    let Some(claim) = one_time::read_link(state, tenant.id, VERIFY_EMAIL_KIND, token, true).await?
    else {
        return Ok(false);
    };
    let Some(mut user) = state.store.users.by_id(tenant.id, claim.user_id).await? else {
        return Ok(false);
    };
    if user.email.as_str() != claim.email {
        return Ok(false);
    }
    user.email_verified = true;
    user.updated_at = Timestamp::now();
    let event = own_event(
        tenant,
        &user,
        "account.email_verified",
        Outcome::Success,
        "",
    );
    let update = state.store.users.update(tenant.id, &user);
    state.audited(event, meta, update).await?;
    Ok(true)
}
