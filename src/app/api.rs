//! Server functions behind the pages. They stay thin: parse the form, take the request context,
//! call `auth/` or `oidc/`, and answer with a redirect. Outcomes travel in the redirect's query
//! (`error=…`), so pages behave the same with and without JavaScript.

mod account;
mod admin;
mod factors;
mod platform;
mod recovery;

pub use account::*;
pub use admin::*;
pub use factors::*;
pub use platform::*;
pub use recovery::*;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeLine {
    pub scope: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub tenant_name: String,
    pub client_name: String,
    /// The application's https logo, when it registered one.
    pub client_logo: Option<String>,
    pub user_email: String,
    pub scopes: Vec<ScopeLine>,
    pub flow: String,
    pub csrf: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HomeView {
    pub tenant_name: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
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
            if let Some(step) = factors::factor_step(&ctx, &flow).await? {
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

#[server(prefix = "/api", endpoint = "consent_view")]
pub async fn load_consent_page(
    tenant: String,
    flow: String,
) -> Result<Option<ConsentView>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((flow, client, user)) = server::consent_flow(&ctx, &flow).await? else {
        return Ok(None);
    };
    let scopes = flow
        .request
        .iter()
        .flat_map(|r| r.scopes.iter())
        .map(|s| ScopeLine {
            scope: s.clone(),
            description: crate::oidc::scopes::describe(s),
        })
        .collect();
    Ok(Some(ConsentView {
        tenant_name: ctx.tenant.name.clone(),
        client_name: client.name,
        client_logo: client.logo_uri,
        user_email: user.email.to_string(),
        scopes,
        flow: flow.id,
        csrf: server::csrf(&ctx).await?,
    }))
}

#[server(prefix = "/api", endpoint = "consent")]
pub async fn submit_consent(
    tenant: String,
    flow: String,
    csrf: String,
    decision: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{AuditEvent, Consent, Outcome, Timestamp};
    let ctx = server::context(&tenant).await?;
    let consent_page = format!(
        "/t/{}/consent?flow={}",
        ctx.tenant.slug,
        server::encode(&flow)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{consent_page}&error=csrf"));
    }
    let Some((mut flow, client, user)) = server::consent_flow(&ctx, &flow).await? else {
        return server::go(&format!("/t/{}/error?code=expired", ctx.tenant.slug));
    };
    let Some(request) = flow.request.as_mut() else {
        return server::go(&format!("/t/{}/error?code=expired", ctx.tenant.slug));
    };
    match decision.as_str() {
        "allow" => {
            let mut scopes = ctx
                .state
                .store
                .consents
                .get(ctx.tenant.id, user.id, &client.client_id)
                .await
                .map_err(server::internal(&ctx))?
                .map(|c| c.scopes)
                .unwrap_or_default();
            scopes.extend(
                request
                    .scopes
                    .iter()
                    .filter(|s| !scopes.contains(s))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let consent = Consent {
                tenant_id: ctx.tenant.id,
                user_id: user.id,
                client_id: client.client_id.clone(),
                scopes,
                granted_at: Timestamp::now(),
            };
            ctx.state
                .store
                .consents
                .upsert(ctx.tenant.id, &consent)
                .await
                .map_err(server::internal(&ctx))?;
            request.prompt_consent = false;
            let event = AuditEvent::new(
                ctx.tenant.id,
                "consent.granted",
                Outcome::Success,
                format!("user:{}", user.id),
            )
            .target(format!("client:{}", client.client_id))
            .reason(request.scopes.join(" "));
            ctx.state.audit(event, &ctx.meta).await;
        }
        "deny" => flow.denied = true,
        _ => return server::go(&format!("{consent_page}&error=choice")),
    }
    ctx.state
        .store
        .artifacts
        .put_flow(ctx.tenant.id, &flow)
        .await
        .map_err(server::internal(&ctx))?;
    server::go(&format!(
        "/t/{}/authorize/resume?flow={}",
        ctx.tenant.slug, flow.id
    ))
}

#[server(prefix = "/api", endpoint = "home_view")]
pub async fn load_home_page(tenant: String) -> Result<HomeView, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let signed_in = crate::auth::browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?;
    let signed_in_as = match signed_in {
        Some(s) => ctx
            .state
            .store
            .users
            .by_id(ctx.tenant.id, s.user_id)
            .await
            .map_err(server::internal(&ctx))?
            .map(|u| u.email.to_string()),
        None => None,
    };
    Ok(HomeView {
        tenant_name: ctx.tenant.name.clone(),
        signed_in_as,
        csrf: server::csrf(&ctx).await?,
    })
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out(tenant: String, csrf: String) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("/t/{}?error=csrf", ctx.tenant.slug));
    }
    crate::oidc::logout::end_sign_in(&ctx.state, &ctx.session, &ctx.tenant, &ctx.meta)
        .await
        .map_err(server::internal(&ctx))?;
    server::go(&format!("/t/{}/signed-out", ctx.tenant.slug))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeviceStep {
    /// Ask for the code shown on the device.
    EnterCode,
    /// The code is valid; the person must sign in first.
    SignIn,
    Confirm {
        client_name: String,
        user_email: String,
        scopes: Vec<ScopeLine>,
    },
    Done {
        approved: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceView {
    pub tenant_name: String,
    /// As the person should see it: `ABCD-EFGH`.
    pub user_code: String,
    pub step: DeviceStep,
    pub csrf: String,
}

#[server(prefix = "/api", endpoint = "device_view")]
pub async fn load_device_page(
    tenant: String,
    user_code: String,
    done: String,
) -> Result<DeviceView, ServerFnError> {
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let mut view = DeviceView {
        tenant_name: ctx.tenant.name.clone(),
        user_code: device::normalize(&user_code)
            .map(|c| device::display(&c))
            .unwrap_or_default(),
        step: DeviceStep::EnterCode,
        csrf: server::csrf(&ctx).await?,
    };
    if let "approved" | "denied" = done.as_str() {
        view.step = DeviceStep::Done {
            approved: done == "approved",
        };
        return Ok(view);
    }
    let Some(grant) = device::pending(&ctx.state, &ctx.tenant, &user_code)
        .await
        .map_err(server::internal(&ctx))?
    else {
        return Ok(view);
    };
    let signed_in = crate::auth::browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?;
    let Some(signed_in) = signed_in else {
        view.step = DeviceStep::SignIn;
        return Ok(view);
    };
    let store = &ctx.state.store;
    let client = store
        .clients
        .by_client_id(ctx.tenant.id, &grant.client_id)
        .await
        .map_err(server::internal(&ctx))?;
    let user = store
        .users
        .by_id(ctx.tenant.id, signed_in.user_id)
        .await
        .map_err(server::internal(&ctx))?;
    if let (Some(client), Some(user)) = (client, user) {
        view.step = DeviceStep::Confirm {
            client_name: client.name,
            user_email: user.email.to_string(),
            scopes: grant
                .scopes
                .iter()
                .map(|s| ScopeLine {
                    scope: s.clone(),
                    description: crate::oidc::scopes::describe(s),
                })
                .collect(),
        };
    }
    Ok(view)
}

#[server(prefix = "/api", endpoint = "device_sign_in")]
pub async fn device_sign_in(
    tenant: String,
    user_code: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let Some(code) = device::normalize(&user_code) else {
        return server::go(&format!("/t/{}/device?error=invalid_code", ctx.tenant.slug));
    };
    let page = format!(
        "/t/{}/device?user_code={}",
        ctx.tenant.slug,
        device::display(&code)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, Some(page))
            .await
            .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
}

#[server(prefix = "/api", endpoint = "device_decide")]
pub async fn device_decide(
    tenant: String,
    user_code: String,
    csrf: String,
    decision: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{AuditEvent, Outcome};
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let page = format!(
        "/t/{}/device?user_code={}",
        ctx.tenant.slug,
        server::encode(&user_code)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return server::go(&format!("{page}&error=choice")),
    };
    let signed_in = crate::auth::browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?;
    let Some(signed_in) = signed_in else {
        return server::go(&page);
    };
    let decided = device::decide(&ctx.state, &ctx.tenant, &user_code, &signed_in, allow)
        .await
        .map_err(server::internal(&ctx))?;
    if !decided {
        return server::go(&format!("/t/{}/device?error=code_expired", ctx.tenant.slug));
    }
    let (action, outcome) = if allow {
        ("device.approved", Outcome::Success)
    } else {
        ("device.denied", Outcome::Failure)
    };
    let event = AuditEvent::new(
        ctx.tenant.id,
        action,
        outcome,
        format!("user:{}", signed_in.user_id),
    );
    ctx.state.audit(event, &ctx.meta).await;
    let done = if allow { "approved" } else { "denied" };
    server::go(&format!("/t/{}/device?done={done}", ctx.tenant.slug))
}

#[cfg(feature = "ssr")]
mod server {
    use crate::auth::mfa::MfaError;
    use crate::auth::one_time::CodeError;
    use crate::auth::{browser, login::LoginError};
    use crate::domain::RequestMeta;
    use crate::domain::{Client, FlowStep, LoginFlow, Tenant, Timestamp, User, UserSession};
    use crate::state::AppState;
    use leptos::prelude::*;
    use tower_sessions::Session;

    pub struct Ctx {
        pub state: AppState,
        pub session: Session,
        pub meta: RequestMeta,
        pub tenant: std::sync::Arc<Tenant>,
    }

    pub async fn context(slug: &str) -> Result<Ctx, ServerFnError> {
        let state =
            use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
        let session: Session = leptos_axum::extract().await?;
        let parts = use_context::<axum::http::request::Parts>()
            .ok_or_else(|| ServerFnError::new("request missing"))?;
        let meta = RequestMeta::from_parts(&parts);
        let found = crate::oidc::any_tenant_by_slug(&state, slug)
            .await
            .map_err(|e| log_internal(&meta, e))?;
        let tenant = match found {
            Some(tenant) if tenant.accepts_sign_ins() => tenant,
            // A suspended tenant's pages and forms say so (403); an unknown one is not found.
            found => {
                let (status, text) = match found {
                    Some(_) => (
                        axum::http::StatusCode::FORBIDDEN,
                        crate::app::pages::error::SUSPENDED,
                    ),
                    None => (axum::http::StatusCode::NOT_FOUND, "not found"),
                };
                if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                    response.set_status(status);
                }
                return Err(ServerFnError::new(text));
            }
        };
        Ok(Ctx {
            state,
            session,
            meta,
            tenant,
        })
    }

    fn log_internal(meta: &RequestMeta, e: impl std::fmt::Display) -> ServerFnError {
        tracing::error!(request_id = ?meta.request_id, error = %e, "page request failed");
        ServerFnError::new(match &meta.request_id {
            Some(id) => format!("Something went wrong (request id {id})."),
            None => "Something went wrong.".to_string(),
        })
    }

    pub fn internal<E: std::fmt::Display>(ctx: &Ctx) -> impl Fn(E) -> ServerFnError + '_ {
        move |e| log_internal(&ctx.meta, e)
    }

    pub async fn csrf(ctx: &Ctx) -> Result<String, ServerFnError> {
        browser::csrf_token(&ctx.session)
            .await
            .map_err(|e| log_internal(&ctx.meta, e))
    }

    pub async fn csrf_ok(ctx: &Ctx, submitted: &str) -> bool {
        let ok = browser::csrf_is_valid(&ctx.session, submitted).await;
        if !ok {
            tracing::warn!(request_id = ?ctx.meta.request_id, "form rejected: CSRF token missing or wrong");
        }
        ok
    }

    pub fn go(url: &str) -> Result<(), ServerFnError> {
        leptos_axum::redirect(url);
        Ok(())
    }

    /// Keeps `flash` in the session under `key` for the next console page, redirects there,
    /// and answers `status` (a refusal) so a direct call sees it.
    pub async fn flash_and_go(
        ctx: &Ctx,
        key: &str,
        flash: super::Flash,
        page: &str,
        status: Option<axum::http::StatusCode>,
    ) -> Result<(), ServerFnError> {
        if let Err(e) = ctx.session.insert(key, &flash).await {
            return Err(internal(ctx)(e));
        }
        go(page)?;
        if let (Some(status), Some(response)) =
            (status, use_context::<leptos_axum::ResponseOptions>())
        {
            response.set_status(status);
        }
        Ok(())
    }

    /// The browser's active sign-in to the tenant and its person, if any.
    pub async fn signed_in(ctx: &Ctx) -> Result<Option<(UserSession, User)>, ServerFnError> {
        let Some(session) = browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
            .await
            .map_err(internal(ctx))?
        else {
            return Ok(None);
        };
        let user = ctx
            .state
            .store
            .users
            .by_id(ctx.tenant.id, session.user_id)
            .await
            .map_err(internal(ctx))?;
        Ok(user.filter(User::can_sign_in).map(|u| (session, u)))
    }

    /// A time as people read it, in UTC.
    pub fn when(at: Timestamp) -> String {
        time::OffsetDateTime::from_unix_timestamp(at.unix())
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute] UTC"
                ))
                .ok()
            })
            .unwrap_or_default()
    }

    /// `next` if it is a page of this tenant, else the tenant's home page: redirects taken from
    /// a URL never leave the tenant (no open redirect).
    pub fn local_page(ctx: &Ctx, next: &str) -> String {
        let home = format!("/t/{}", ctx.tenant.slug);
        let ok = (next == home || next.starts_with(&format!("{home}/")))
            && !next.contains("//")
            && !next.contains('\\')
            && !next.chars().any(char::is_control);
        if ok {
            next.to_owned()
        } else {
            home
        }
    }

    pub fn encode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    pub fn login_url(tenant: &Tenant, flow: &str, error: Option<&str>) -> String {
        let mut url = format!("/t/{}/login?flow={}", tenant.slug, encode(flow));
        if let Some(code) = error {
            url.push_str("&error=");
            url.push_str(code);
        }
        url
    }

    /// The code a page turns into a message; internal errors are logged and end the request.
    pub fn login_error_code(ctx: &Ctx, e: LoginError) -> Result<&'static str, ServerFnError> {
        Ok(login_error(ctx, e)?.0)
    }

    /// The message code, and the seconds to wait for codes that have them.
    pub fn login_error(
        ctx: &Ctx,
        e: LoginError,
    ) -> Result<(&'static str, Option<u64>), ServerFnError> {
        Ok(match e {
            LoginError::Expired | LoginError::OutOfOrder => ("expired", None),
            LoginError::InvalidEmail(_) => ("invalid_email", None),
            LoginError::IncorrectCredentials => ("incorrect", None),
            LoginError::Throttled(secs) => ("throttled", Some(secs)),
            LoginError::Factor(e) => return factor_error(ctx, e),
            LoginError::Internal(e) => return Err(log_internal(&ctx.meta, e)),
        })
    }

    pub fn factor_error(
        ctx: &Ctx,
        e: MfaError,
    ) -> Result<(&'static str, Option<u64>), ServerFnError> {
        Ok(match e {
            MfaError::Wrong | MfaError::Code(CodeError::Wrong) => ("wrong_code", None),
            MfaError::Throttled(secs) => ("throttled", Some(secs)),
            MfaError::Unavailable => ("factor_unavailable", None),
            MfaError::Invalid(_) => ("passkey_name", None),
            MfaError::Code(CodeError::Expired) => ("otp_expired", None),
            MfaError::Code(CodeError::TooSoon(secs)) => ("resend_wait", Some(secs.max(1) as u64)),
            MfaError::Code(CodeError::SendLimit) => ("send_limit", None),
            MfaError::Code(CodeError::Internal(e)) | MfaError::Internal(e) => {
                return Err(log_internal(&ctx.meta, e))
            }
        })
    }

    /// `url` with `error=…` (and `wait=…`) appended for a page to show.
    pub fn with_error(url: &str, (code, wait): (&str, Option<u64>)) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        match wait {
            Some(secs) => format!("{url}{sep}error={code}&wait={secs}"),
            None => format!("{url}{sep}error={code}"),
        }
    }

    /// The sign-in page of `flow` showing why `e` stopped it.
    pub fn login_error_url(ctx: &Ctx, flow: &str, e: LoginError) -> Result<String, ServerFnError> {
        let flow = if matches!(e, LoginError::Expired) {
            ""
        } else {
            flow
        };
        Ok(with_error(
            &login_url(&ctx.tenant, flow, None),
            login_error(ctx, e)?,
        ))
    }

    /// See [`crate::auth::login::destination`].
    pub async fn after_step(
        ctx: &Ctx,
        flow: LoginFlow,
        interstitial: Option<String>,
    ) -> Result<String, ServerFnError> {
        crate::auth::login::destination(&ctx.state, &ctx.tenant, flow, interstitial)
            .await
            .map_err(internal(ctx))
    }

    /// The flow waiting for this browser's consent, its client and the signed-in user.
    pub async fn consent_flow(
        ctx: &Ctx,
        flow: &str,
    ) -> Result<Option<(LoginFlow, Client, User)>, ServerFnError> {
        let Ok(flow) =
            crate::auth::login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, flow).await
        else {
            return Ok(None);
        };
        let (
            FlowStep::Authenticated {
                user_id,
                session_id,
            },
            Some(request),
        ) = (&flow.step, &flow.request)
        else {
            return Ok(None);
        };
        let (user_id, session_id, client_id) =
            (*user_id, session_id.clone(), request.client_id.clone());
        let current = browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
            .await
            .map_err(|e| log_internal(&ctx.meta, e))?;
        if current.map(|s| s.id) != Some(session_id) {
            return Ok(None);
        }
        let store = &ctx.state.store;
        let client = store
            .clients
            .by_client_id(ctx.tenant.id, &client_id)
            .await
            .map_err(internal(ctx))?;
        let user = store
            .users
            .by_id(ctx.tenant.id, user_id)
            .await
            .map_err(internal(ctx))?;
        Ok(client.zip(user).map(|(client, user)| (flow, client, user)))
    }
}
