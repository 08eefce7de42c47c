//! What the server functions share: the request context (state, session, tenant), CSRF,
//! redirects and one-time messages, and logging internal errors with the request id.

use crate::auth::mfa::MfaError;
use crate::auth::one_time::CodeError;
use crate::auth::{browser, login::LoginError};
use crate::domain::RequestMeta;
use crate::domain::{Client, FlowStep, LoginFlow, Tenant, Timestamp, User, UserSession};
use crate::error::{Fault, BRIEFLY_UNAVAILABLE};
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

/// As [`log_internal`], except that a store outage answers [`BRIEFLY_UNAVAILABLE`], which
/// `http::server_fns` turns into a 503 with `Retry-After`.
pub fn log_fault(meta: &RequestMeta, e: impl Fault) -> ServerFnError {
    if !e.is_outage() {
        return log_internal(meta, e);
    }
    tracing::warn!(request_id = ?meta.request_id, error = %e, "storage unavailable");
    ServerFnError::new(BRIEFLY_UNAVAILABLE)
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
    if let (Some(status), Some(response)) = (status, use_context::<leptos_axum::ResponseOptions>())
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
pub fn login_error(ctx: &Ctx, e: LoginError) -> Result<(&'static str, Option<u64>), ServerFnError> {
    Ok(match e {
        LoginError::Expired | LoginError::OutOfOrder => ("expired", None),
        LoginError::InvalidEmail(_) => ("invalid_email", None),
        LoginError::IncorrectCredentials => ("incorrect", None),
        LoginError::Throttled(secs) => ("throttled", Some(secs)),
        LoginError::Factor(e) => return factor_error(ctx, e),
        LoginError::Internal(e) => return Err(log_fault(&ctx.meta, e)),
    })
}

pub fn factor_error(ctx: &Ctx, e: MfaError) -> Result<(&'static str, Option<u64>), ServerFnError> {
    Ok(match e {
        MfaError::Wrong | MfaError::Code(CodeError::Wrong) => ("wrong_code", None),
        MfaError::Throttled(secs) => ("throttled", Some(secs)),
        MfaError::Unavailable => ("factor_unavailable", None),
        MfaError::Invalid(_) => ("passkey_name", None),
        MfaError::Code(CodeError::Expired) => ("otp_expired", None),
        MfaError::Code(CodeError::TooSoon(secs)) => ("resend_wait", Some(secs.max(1) as u64)),
        MfaError::Code(CodeError::SendLimit) => ("send_limit", None),
        MfaError::Code(CodeError::Internal(e)) | MfaError::Internal(e) => {
            return Err(log_fault(&ctx.meta, e))
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
    let Ok(flow) = crate::auth::login::load_flow(&ctx.state, &ctx.session, &ctx.tenant, flow).await
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
