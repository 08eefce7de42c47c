//! The sign-in page: its steps (email, password, second factor, set-up of a first factor) and
//! the forms that move a login flow on.

#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LoginStep {
    Identify,
    Password {
        email: String,
    },
    /// `methods` are factor kinds (`totp`, `email_code`, `backup_codes`), preferred first.
    SecondFactor {
        email: String,
        methods: Vec<String>,
    },
    /// A second factor is required and the person has none: they set one up now.
    Enrol {
        email: String,
        totp: Option<TotpSetup>,
        email_codes: bool,
    },
}

/// What an authenticator app needs to be set up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// The QR code as an SVG `data:` URL.
    pub qr: String,
    /// The secret in base32, for typing in.
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginView {
    pub tenant_name: String,
    pub client_name: Option<String>,
    pub step: LoginStep,
    /// Prefills the email field: the client's `login_hint`, or the address entered before.
    pub email_hint: String,
    /// Empty when the sign-in was opened directly rather than by an application.
    pub flow: String,
    pub csrf: String,
    /// The tenant allows signing in with a passkey.
    pub passkeys: bool,
    /// The tenant lets people create their own account.
    pub self_signup: bool,
}

#[server(prefix = "/api", endpoint = "login_view")]
pub async fn load_login_page(tenant: String, flow: String) -> Result<LoginView, ServerFnError> {
    use crate::domain::FlowStep;
    let ctx = server::context(&tenant).await?;
    let csrf = server::csrf(&ctx).await?;
    let mut view = LoginView {
        tenant_name: ctx.tenant.name.clone(),
        client_name: None,
        step: LoginStep::Identify,
        email_hint: String::new(),
        flow: String::new(),
        csrf,
        self_signup: ctx.tenant.settings.self_signup,
        passkeys: ctx.state.passkeys.available()
            && ctx
                .tenant
                .settings
                .allows(crate::domain::FactorKind::Passkey),
    };
    if flow.is_empty() {
        return Ok(view);
    }
    let Ok(flow) =
        crate::auth::login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, &flow).await
    else {
        return Ok(view);
    };
    if let Some(request) = &flow.request {
        view.client_name = ctx
            .state
            .store
            .clients
            .by_client_id(ctx.tenant.id, &request.client_id)
            .await
            .map_err(server::internal(&ctx))?
            .map(|c| c.name);
        view.email_hint = request.login_hint.clone().unwrap_or_default();
    }
    match &flow.step {
        FlowStep::Password { email } => {
            view.email_hint = email.clone();
            view.step = LoginStep::Password {
                email: email.clone(),
            };
        }
        FlowStep::SecondFactor { .. } | FlowStep::Enrol { .. } => {
            if let Some(step) = super::factors::factor_step(&ctx, &flow).await? {
                view.step = step;
            }
        }
        _ => {}
    }
    view.flow = flow.id;
    Ok(view)
}

#[server(prefix = "/api", endpoint = "login_email")]
pub async fn submit_email(
    tenant: String,
    flow: String,
    csrf: String,
    email: String,
) -> Result<(), ServerFnError> {
    use crate::auth::login;
    let ctx = server::context(&tenant).await?;
    let page = |flow: &str, error: Option<&str>| server::login_url(&ctx.tenant, flow, error);
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&page(&flow, Some("csrf")));
    }
    let loaded = if flow.is_empty() {
        login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, None).await
    } else {
        login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, &flow).await
    };
    let outcome = match loaded {
        Ok(f) => login::identify(&ctx.state, &ctx.tenant, f, &email)
            .await
            .map_err(|e| (e, flow.clone())),
        Err(e) => Err((e, String::new())),
    };
    match outcome {
        Ok(f) => server::go(&page(&f.id, None)),
        Err((e, flow)) => server::go(&page(&flow, Some(server::login_error_code(&ctx, e)?))),
    }
}

#[server(prefix = "/api", endpoint = "login_password")]
pub async fn submit_password(
    tenant: String,
    flow: String,
    csrf: String,
    password: String,
) -> Result<(), ServerFnError> {
    use crate::auth::login;
    let ctx = server::context(&tenant).await?;
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&server::login_url(&ctx.tenant, &flow, Some("csrf")));
    }
    let loaded = match login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, &flow).await {
        Ok(f) => f,
        Err(e) => {
            return server::go(&server::login_url(
                &ctx.tenant,
                "",
                Some(server::login_error_code(&ctx, e)?),
            ))
        }
    };
    match login::verify_password(
        &ctx.state,
        &ctx.session,
        &ctx.meta,
        &ctx.tenant,
        loaded,
        password,
    )
    .await
    {
        Ok(f) => server::go(&server::after_step(&ctx, f, None).await?),
        Err(e) => server::go(&server::login_error_url(&ctx, &flow, e)?),
    }
}
