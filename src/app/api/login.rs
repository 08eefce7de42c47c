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
    /// The tenant's upstream providers, one button each.
    pub connections: Vec<ConnectionButton>,
    /// The name of the provider whose identity this sign-in links to the account proven next.
    pub linking: Option<String>,
}

/// A sign-in button of an upstream provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionButton {
    pub slug: String,
    pub name: String,
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
        connections: crate::auth::upstream::buttons(&ctx.state, &ctx.tenant)
            .await
            .map_err(server::internal(&ctx))?
            .into_iter()
            .map(|c| ConnectionButton {
                slug: c.slug,
                name: c.name,
            })
            .collect(),
        linking: None,
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
    view.linking = flow.upstream.filter(|u| u.link).map(|u| u.connection_name);
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
    if let Ok(f) = &loaded {
        if let Some(url) = home_realm(&ctx, f, &email).await? {
            return server::go(&url);
        }
    }
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

/// Home-realm discovery: the provider of the connection that claims the email's domain, where
/// the person goes instead of a password (unless they are proving an account to link).
#[cfg(feature = "ssr")]
async fn home_realm(
    ctx: &server::Ctx,
    flow: &crate::domain::LoginFlow,
    email: &str,
) -> Result<Option<String>, ServerFnError> {
    use crate::auth::upstream;
    if flow.upstream.is_some() {
        return Ok(None);
    }
    let Ok(email) = crate::domain::Email::parse(email) else {
        return Ok(None);
    };
    let found = upstream::home_realm(&ctx.state, &ctx.tenant, email.as_str()).await;
    let Some(connection) = found.map_err(server::internal(ctx))? else {
        return Ok(None);
    };
    let hint = Some(email.as_str());
    match upstream::begin(&ctx.state, &ctx.tenant, flow, &connection, hint).await {
        Ok(url) => Ok(Some(url)),
        Err(e) => match e.code() {
            Some(code) => Ok(Some(server::login_url(&ctx.tenant, &flow.id, Some(code)))),
            None => Err(server::internal(ctx)(e)),
        },
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
