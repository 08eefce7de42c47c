//! Server functions of the second-factor steps of sign-in, and the page that shows new backup
//! codes once.

#[cfg(feature = "ssr")]
use super::{server, LoginStep, TotpSetup};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The second-factor step (or enrolment step) of `flow`, as its page shows it.
#[cfg(feature = "ssr")]
pub(super) async fn factor_step(
    ctx: &server::Ctx,
    flow: &crate::domain::LoginFlow,
) -> Result<Option<LoginStep>, ServerFnError> {
    use crate::auth::{login, mfa};
    use crate::domain::{FactorKind, FlowStep};
    let Ok(user) = login::pending_user(&ctx.state, &ctx.tenant, flow).await else {
        return Ok(None);
    };
    let email = user.email.to_string();
    if let FlowStep::SecondFactor { .. } = flow.step {
        let factors = mfa::factors_of(&ctx.state, &ctx.tenant, &user)
            .await
            .map_err(server::internal(ctx))?;
        let methods = mfa::usable_kinds(&ctx.tenant, &factors)
            .into_iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        return Ok(Some(LoginStep::SecondFactor { email, methods }));
    }
    let totp = match mfa::begin_totp(&ctx.state, &ctx.tenant, &user).await {
        Ok(setup) => Some(TotpSetup {
            qr: setup.qr_data_url,
            secret: setup.secret_base32,
        }),
        Err(mfa::MfaError::Unavailable) => None,
        Err(e) => return Err(server::internal(ctx)(e)),
    };
    Ok(Some(LoginStep::Enrol {
        email,
        totp,
        email_codes: ctx.tenant.settings.allows(FactorKind::EmailCode),
    }))
}

/// A code for the second-factor step, or for the enrolment step.
#[server(prefix = "/api", endpoint = "login_factor")]
pub async fn submit_factor(
    tenant: String,
    flow: String,
    csrf: String,
    method: String,
    code: String,
) -> Result<(), ServerFnError> {
    use crate::auth::login::{self, LoginError};
    use crate::domain::{FactorKind, FlowStep};
    let ctx = server::context(&tenant).await?;
    let page = format!(
        "{}&method={}",
        server::login_url(&ctx.tenant, &flow, None),
        server::encode(&method)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let loaded = match login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, &flow).await {
        Ok(f) => f,
        Err(e) => return server::go(&server::login_error_url(&ctx, &flow, e)?),
    };
    let Some(kind) = FactorKind::parse(&method).filter(|_| code.len() <= 64) else {
        return server::go(&format!("{page}&error=wrong_code"));
    };
    let (s, m, t) = (&ctx.state, &ctx.session, &ctx.tenant);
    let outcome = match loaded.step {
        FlowStep::Enrol { .. } => login::confirm_enrolment(s, m, &ctx.meta, t, loaded, kind, &code)
            .await
            .map(|f| (f, Some("show=1".to_owned()))),
        _ => login::verify_second_factor(s, m, &ctx.meta, t, loaded, kind, &code)
            .await
            .map(|(f, left)| (f, left.map(|n| format!("left={n}")))),
    };
    match outcome {
        Ok((f, interstitial)) => server::go(&server::after_step(&ctx, f, interstitial).await?),
        Err(e @ LoginError::Expired) => server::go(&server::login_error_url(&ctx, &flow, e)?),
        Err(e) => server::go(&server::with_error(&page, server::login_error(&ctx, e)?)),
    }
}

/// Emails a code: for signing in, or for turning on email codes at the enrolment step.
#[server(prefix = "/api", endpoint = "login_send_code")]
pub async fn send_login_code(
    tenant: String,
    flow: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    use crate::auth::{login, mfa};
    use crate::domain::FlowStep;
    let ctx = server::context(&tenant).await?;
    let page = format!(
        "{}&method=email_code",
        server::login_url(&ctx.tenant, &flow, None)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let loaded = match login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, &flow).await {
        Ok(f) => f,
        Err(e) => return server::go(&server::login_error_url(&ctx, &flow, e)?),
    };
    let sent = match loaded.step {
        FlowStep::Enrol { .. } => match login::pending_user(&ctx.state, &ctx.tenant, &loaded).await
        {
            Ok(user) => mfa::begin_email_codes(&ctx.state, &ctx.tenant, &user)
                .await
                .map_err(login::LoginError::from),
            Err(e) => Err(e),
        },
        _ => login::send_email_code(&ctx.state, &ctx.tenant, &loaded).await,
    };
    match sent {
        Ok(()) => server::go(&format!("{page}&sent=1")),
        Err(e) => server::go(&server::with_error(&page, server::login_error(&ctx, e)?)),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupCodesView {
    pub tenant_name: String,
    /// Shown this once; empty when they were shown already (or there are none).
    pub codes: Vec<String>,
    /// Where "Continue" goes: a page of this tenant.
    pub next: String,
}

#[server(prefix = "/api", endpoint = "backup_codes_view")]
pub async fn load_backup_codes_page(
    tenant: String,
    next: String,
) -> Result<BackupCodesView, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let codes = crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?
        .unwrap_or_default();
    Ok(BackupCodesView {
        tenant_name: ctx.tenant.name.clone(),
        codes,
        next: server::local_page(&ctx, &next),
    })
}
