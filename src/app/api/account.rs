//! Server functions of the account page: what a signed-in person sees and changes about their
//! own account. Every change checks the CSRF token and that the browser is signed in; factor
//! changes also need a recent sign-in.

#[cfg(feature = "ssr")]
use super::server;
use super::TotpSetup;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorLine {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
    /// For backup codes: how many are left.
    pub codes_left: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionLine {
    /// A handle for the form, not the session's secret id.
    pub handle: String,
    pub current: bool,
    pub started: String,
    pub last_seen: String,
    pub ip: String,
    pub device: String,
    pub methods: String,
}

/// An application the person allowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppLine {
    pub client_id: String,
    pub name: String,
    pub scopes: String,
    pub allowed: String,
}

/// An identity at an upstream provider that signs the person in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkLine {
    pub connection: String,
    pub connection_slug: String,
    pub subject: String,
    pub email: Option<String>,
    pub linked: String,
    pub last_used: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityLine {
    pub at: String,
    pub what: String,
    pub ok: bool,
    pub ip: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub tenant_name: String,
    pub email: String,
    pub email_verified: bool,
    pub factors: Vec<FactorLine>,
    pub can_add_totp: bool,
    pub can_add_email_codes: bool,
    pub can_add_passkey: bool,
    /// The authenticator-app enrolment in progress (after "Set up").
    pub totp_setup: Option<TotpSetup>,
    pub sessions: Vec<SessionLine>,
    pub apps: Vec<AppLine>,
    pub links: Vec<LinkLine>,
    pub activity: Vec<ActivityLine>,
    /// Signed in recently enough to change factors.
    pub recent_sign_in: bool,
    pub require_mfa: bool,
    pub csrf: String,
}

/// `None` when the browser is not signed in to the tenant.
#[server(prefix = "/api", endpoint = "account_view")]
pub async fn load_account_page(
    tenant: String,
    setup: String,
) -> Result<Option<AccountView>, ServerFnError> {
    use crate::auth::{account, mfa};
    use crate::domain::FactorKind;
    let ctx = server::context(&tenant).await?;
    let Some((current, user)) = server::signed_in(&ctx).await? else {
        return Ok(None);
    };
    let state = &ctx.state;
    let factors = mfa::factors_of(state, &ctx.tenant, &user)
        .await
        .map_err(server::internal(&ctx))?;
    let has = |kind| factors.iter().any(|f| f.kind == kind);
    let can_add_totp = ctx.tenant.settings.allows(FactorKind::Totp) && !has(FactorKind::Totp);
    let totp_setup = if setup == "totp" && can_add_totp && account::is_recent(&current) {
        let setup = mfa::begin_totp(state, &ctx.tenant, &user)
            .await
            .map_err(server::internal(&ctx))?;
        Some(TotpSetup {
            qr: setup.qr_data_url,
            secret: setup.secret_base32,
        })
    } else {
        None
    };
    let sessions = state
        .store
        .sessions
        .of_user(ctx.tenant.id, user.id, crate::domain::Timestamp::now())
        .await
        .map_err(server::internal(&ctx))?;
    let apps = account::allowed_apps(state, &ctx.tenant, user.id)
        .await
        .map_err(server::internal(&ctx))?;
    let links = crate::auth::upstream::links_of(state, &ctx.tenant, &user)
        .await
        .map_err(server::internal(&ctx))?;
    let actor = format!("user:{}", user.id);
    let activity = state
        .store
        .audit
        .recent(ctx.tenant.id, Some(&actor), 20)
        .await
        .map_err(server::internal(&ctx))?;
    Ok(Some(AccountView {
        tenant_name: ctx.tenant.name.clone(),
        email: user.email.to_string(),
        email_verified: user.email_verified,
        factors: factors
            .iter()
            .map(|f| FactorLine {
                id: f.id.clone(),
                kind: f.kind.as_str().into(),
                name: f.name.clone(),
                added: server::when(f.created_at),
                last_used: f.last_used_at.map(server::when),
                codes_left: mfa::backup_codes_left(f),
            })
            .collect(),
        can_add_totp,
        can_add_email_codes: ctx.tenant.settings.allows(FactorKind::EmailCode)
            && !has(FactorKind::EmailCode),
        can_add_passkey: state.passkeys.available()
            && ctx.tenant.settings.allows(FactorKind::Passkey),
        totp_setup,
        sessions: sessions
            .iter()
            .map(|s| SessionLine {
                handle: crate::oidc::backchannel::sid(&s.id),
                current: s.id == current.id,
                started: server::when(s.created_at),
                last_seen: server::when(s.last_seen_at),
                ip: s.ip.clone().unwrap_or_else(|| "unknown".into()),
                device: s
                    .user_agent
                    .as_deref()
                    .map(|ua| ua.chars().take(120).collect())
                    .unwrap_or_else(|| "unknown".into()),
                methods: s.amr.join(", "),
            })
            .collect(),
        apps: apps
            .into_iter()
            .map(|(consent, name)| AppLine {
                name,
                scopes: consent.scopes.join(" "),
                allowed: server::when(consent.granted_at),
                client_id: consent.client_id,
            })
            .collect(),
        links: links
            .into_iter()
            .map(|l| LinkLine {
                connection: l.connection,
                connection_slug: l.connection_slug,
                subject: l.subject,
                email: l.email,
                linked: server::when(l.created_at),
                last_used: l.last_used_at.map(server::when),
            })
            .collect(),
        activity: activity
            .iter()
            .map(|e| ActivityLine {
                at: server::when(e.at),
                what: e.action.clone(),
                ok: e.outcome == crate::domain::Outcome::Success,
                ip: e.ip.clone().unwrap_or_default(),
            })
            .collect(),
        recent_sign_in: account::is_recent(&current),
        require_mfa: ctx.tenant.settings.require_mfa,
        csrf: server::csrf(&ctx).await?,
    }))
}

/// Starts a sign-in that returns to the account page: to sign in, or to sign in again before
/// a sensitive change.
#[server(prefix = "/api", endpoint = "account_sign_in")]
pub async fn account_sign_in(tenant: String, csrf: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = account_page(&ctx);
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}?error=csrf"));
    }
    let flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, Some(page))
            .await
            .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
}

#[server(prefix = "/api", endpoint = "account_password")]
pub async fn change_password(
    tenant: String,
    csrf: String,
    current: String,
    new: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let Some((session, user)) = guard(&ctx, &csrf, false).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    match crate::auth::account::change_password(
        &ctx.state,
        &ctx.meta,
        &ctx.tenant,
        &user,
        &session,
        current,
        new,
    )
    .await
    {
        Ok(()) => server::go(&format!("{page}?done=password")),
        Err(AppError::Invalid(invalid)) => {
            let message = invalid.message();
            let code = if message.starts_with("Too many") {
                "throttled"
            } else if message.starts_with("Your current") {
                "wrong_password"
            } else {
                "weak_password"
            };
            server::go(&format!("{page}?error={code}#password"))
        }
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}

#[server(prefix = "/api", endpoint = "account_totp")]
pub async fn confirm_totp(tenant: String, csrf: String, code: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let confirmed =
        crate::auth::mfa::confirm_totp(&ctx.state, &ctx.meta, &ctx.tenant, &user, &code).await;
    enrolled(&ctx, confirmed, "?setup=totp").await
}

#[server(prefix = "/api", endpoint = "account_email_codes_send")]
pub async fn send_email_codes(tenant: String, csrf: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    match crate::auth::mfa::begin_email_codes(&ctx.state, &ctx.tenant, &user).await {
        Ok(()) => server::go(&format!("{page}?sent=1#email-codes")),
        Err(e) => server::go(&format!(
            "{}#email-codes",
            server::with_error(&page, server::factor_error(&ctx, e)?)
        )),
    }
}

#[server(prefix = "/api", endpoint = "account_email_codes")]
pub async fn confirm_email_codes(
    tenant: String,
    csrf: String,
    code: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let confirmed =
        crate::auth::mfa::confirm_email_codes(&ctx.state, &ctx.meta, &ctx.tenant, &user, &code)
            .await;
    enrolled(&ctx, confirmed, "?sent=1").await
}

#[server(prefix = "/api", endpoint = "account_remove_factor")]
pub async fn remove_factor(
    tenant: String,
    csrf: String,
    factor: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    match crate::auth::mfa::remove(&ctx.state, &ctx.meta, &ctx.tenant, &user, &factor).await {
        Ok(()) => server::go(&format!("{page}?done=removed")),
        Err(AppError::NotFound) => server::go(&format!("{page}?error=not_found")),
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}

#[server(prefix = "/api", endpoint = "account_backup_codes")]
pub async fn create_backup_codes(tenant: String, csrf: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    match crate::auth::mfa::new_backup_codes(&ctx.state, &ctx.meta, &ctx.tenant, &user).await {
        Ok(codes) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &codes)
                .await
                .map_err(server::internal(&ctx))?;
            server::go(&backup_codes_page(&ctx))
        }
        Err(e) => server::go(&server::with_error(&page, server::factor_error(&ctx, e)?)),
    }
}

#[server(prefix = "/api", endpoint = "account_end_session")]
pub async fn end_session(
    tenant: String,
    csrf: String,
    session: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((current, user)) = guard(&ctx, &csrf, false).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    let sessions = ctx
        .state
        .store
        .sessions
        .of_user(ctx.tenant.id, user.id, crate::domain::Timestamp::now())
        .await
        .map_err(server::internal(&ctx))?;
    let target = sessions
        .iter()
        .find(|s| crate::oidc::backchannel::sid(&s.id) == session && s.id != current.id);
    let Some(target) = target else {
        return server::go(&format!("{page}?error=not_found#sessions"));
    };
    crate::auth::account::end_sign_in(&ctx.state, &ctx.tenant, target)
        .await
        .map_err(server::internal(&ctx))?;
    let event = crate::domain::AuditEvent::new(
        ctx.tenant.id,
        "account.session_ended",
        crate::domain::Outcome::Success,
        format!("user:{}", user.id),
    )
    .target(format!("sid:{session}"));
    ctx.state.audit(event, &ctx.meta).await;
    server::go(&format!("{page}?done=signed_out#sessions"))
}

/// Takes back the access the person gave an application: its tokens are revoked and it asks
/// again next time.
#[server(prefix = "/api", endpoint = "account_withdraw_consent")]
pub async fn withdraw_consent(
    tenant: String,
    csrf: String,
    client: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, false).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    let withdrawn = if crate::domain::Client::validate_client_id(&client).is_ok() {
        let by = format!("user:{}", user.id);
        crate::auth::account::withdraw_consent(
            &ctx.state,
            &ctx.meta,
            &ctx.tenant,
            user.id,
            &client,
            by,
        )
        .await
        .map_err(server::internal(&ctx))?
    } else {
        None
    };
    if withdrawn.is_none() {
        return server::go(&format!("{page}?error=not_found#apps"));
    }
    server::go(&format!("{page}?done=consent_withdrawn#apps"))
}

/// Removes a linked identity, unless it is the person's last way to sign in.
#[server(prefix = "/api", endpoint = "account_unlink")]
pub async fn unlink_identity(
    tenant: String,
    csrf: String,
    connection: String,
    subject: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, true).await? else {
        return Ok(());
    };
    let page = account_page(&ctx);
    let (state, meta, t) = (&ctx.state, &ctx.meta, &ctx.tenant);
    match crate::auth::upstream::unlink(state, meta, t, &user, &connection, &subject).await {
        Ok(()) => server::go(&format!("{page}?done=unlinked#links")),
        Err(AppError::NotFound) => server::go(&format!("{page}?error=not_found#links")),
        Err(AppError::Invalid(_)) => server::go(&format!("{page}?error=last_sign_in#links")),
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}

#[server(prefix = "/api", endpoint = "account_verify_email")]
pub async fn send_verification(tenant: String, csrf: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((_, user)) = guard(&ctx, &csrf, false).await? else {
        return Ok(());
    };
    crate::auth::account::send_verification(&ctx.state, &ctx.tenant, &user)
        .await
        .map_err(server::internal(&ctx))?;
    server::go(&format!("{}?done=verification_sent", account_page(&ctx)))
}

#[cfg(feature = "ssr")]
fn account_page(ctx: &server::Ctx) -> String {
    format!("/t/{}/account", ctx.tenant.slug)
}

#[cfg(feature = "ssr")]
fn backup_codes_page(ctx: &server::Ctx) -> String {
    format!(
        "/t/{}/backup-codes?show=1&next={}",
        ctx.tenant.slug,
        server::encode(&account_page(ctx))
    )
}

/// The signed-in person behind a form, or a redirect explaining why not: a wrong CSRF token,
/// no sign-in, or (when `recent` is asked) a sign-in too old for the change.
#[cfg(feature = "ssr")]
async fn guard(
    ctx: &server::Ctx,
    csrf: &str,
    recent: bool,
) -> Result<Option<(crate::domain::UserSession, crate::domain::User)>, ServerFnError> {
    let page = account_page(ctx);
    if !server::csrf_ok(ctx, csrf).await {
        server::go(&format!("{page}?error=csrf"))?;
        return Ok(None);
    }
    let Some((session, user)) = server::signed_in(ctx).await? else {
        server::go(&page)?;
        return Ok(None);
    };
    if recent && !crate::auth::account::is_recent(&session) {
        server::go(&format!("{page}?error=reauth"))?;
        return Ok(None);
    }
    Ok(Some((session, user)))
}

/// After an enrolment: new backup codes are shown once, else back to the account page.
#[cfg(feature = "ssr")]
async fn enrolled(
    ctx: &server::Ctx,
    confirmed: Result<Option<Vec<String>>, crate::auth::mfa::MfaError>,
    retry_query: &str,
) -> Result<(), ServerFnError> {
    let page = account_page(ctx);
    match confirmed {
        Ok(Some(codes)) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &codes)
                .await
                .map_err(server::internal(ctx))?;
            server::go(&backup_codes_page(ctx))
        }
        Ok(None) => server::go(&format!("{page}?done=added")),
        Err(e) => server::go(&server::with_error(
            &format!("{page}{retry_query}"),
            server::factor_error(ctx, e)?,
        )),
    }
}
