//! Server functions of the platform console (`/admin`), for the operators of the installation.
//! Operators sign in to the reserved tenant `_ops` with the normal sign-in pages; each function
//! resolves that sign-in as an [`crate::admin::Actor`] and calls an `admin::platform` use case,
//! which refuses anyone who is not an operator. Outcomes travel as a one-time message in the
//! browser session, as in the organisation console.

#[cfg(feature = "ssr")]
use super::server;
use super::Flash;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What every platform console page shows around its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformNav {
    pub email: String,
    pub csrf: String,
    pub flash: Option<Flash>,
}

/// A platform console page's data, or why it cannot be shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Platform<T> {
    /// Nobody can sign in yet: the first operator is created on the server.
    NoOperators,
    /// Not signed in as an operator: the page offers to sign in.
    SignedOut {
        csrf: String,
    },
    Ready(PlatformNav, T),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantLine {
    pub slug: String,
    pub name: String,
    /// `Active`, `Trial` or `Suspended`.
    pub status: String,
    pub suspended: bool,
    /// The operators' own tenant, which cannot be suspended or deleted.
    pub operators: bool,
    pub created: String,
    /// Its data is in a database of its own.
    pub dedicated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantsPage {
    pub tenants: Vec<TenantLine>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

#[server(prefix = "/api", endpoint = "platform_tenants")]
pub async fn load_platform_tenants(
    search: String,
    after: String,
) -> Result<Platform<TenantsPage>, ServerFnError> {
    use crate::admin::platform;
    use crate::error::AppError;
    let Some(ctx) = operators::context().await? else {
        return Ok(Platform::NoOperators);
    };
    operators::load(&ctx, |actor| {
        let ctx = &ctx;
        async move {
            let after = if after.is_empty() {
                None
            } else {
                Some(
                    after
                        .parse()
                        .map_err(|_| AppError::invalid("That page link is not valid."))?,
                )
            };
            let limit = 50;
            let tenants = platform::list(&ctx.state, &actor, &search, after, limit).await?;
            let next = (tenants.len() == limit as usize)
                .then(|| tenants.last().map(|t| t.id.to_string()))
                .flatten();
            Ok(TenantsPage {
                tenants: tenants.iter().map(operators::tenant_line).collect(),
                next,
            })
        }
    })
    .await
}

/// Starts a sign-in to `_ops` that comes back to `/admin`; also "confirm it is you" before a
/// deletion.
#[server(prefix = "/api", endpoint = "platform_sign_in")]
pub async fn platform_sign_in(csrf: String) -> Result<(), ServerFnError> {
    let Some(ctx) = operators::context().await? else {
        return server::go(operators::HOME);
    };
    if !server::csrf_ok(&ctx, &csrf).await {
        return operators::done(&ctx, Err(operators::csrf_error())).await;
    }
    let mut flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, None)
            .await
            .map_err(server::internal(&ctx))?;
    // `start_flow` only takes pages below the tenant's own address; this fixed one is ours.
    flow.return_to = Some(operators::HOME.to_string());
    ctx.state
        .store
        .artifacts
        .put_flow(ctx.tenant.id, &flow)
        .await
        .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
}

/// Creates a tenant and invites its first owner by email.
#[server(prefix = "/api", endpoint = "platform_tenant_create")]
pub async fn platform_create_tenant(
    csrf: String,
    slug: String,
    name: String,
    owner_email: String,
    #[server(default)] placement: String,
) -> Result<(), ServerFnError> {
    let Some(ctx) = operators::context().await? else {
        return operators::refuse();
    };
    let Some(actor) = operators::act(&ctx, &csrf).await? else {
        return Ok(());
    };
    let outcome = crate::admin::platform::create_tenant(
        &ctx.state,
        &actor,
        &slug,
        &name,
        &owner_email,
        &placement,
    )
    .await
    .map(|(tenant, owner)| {
        let place = if tenant.placement.is_dedicated() {
            "in a database of its own"
        } else {
            "in the main database"
        };
        format!(
            "The tenant {} was created {place} (issuer {}). {} was invited by email to be its owner.",
            tenant.slug,
            ctx.state.config.issuer(tenant.slug.as_str()),
            owner.email
        )
    });
    operators::done(&ctx, outcome).await
}

/// `action`: `suspend`, `reactivate`, or `delete` (with `confirm` repeating the slug).
#[server(prefix = "/api", endpoint = "platform_tenant_action")]
pub async fn platform_tenant_action(
    csrf: String,
    slug: String,
    action: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    use crate::admin::platform;
    use crate::error::AppError;
    let Some(ctx) = operators::context().await? else {
        return operators::refuse();
    };
    let Some(actor) = operators::act(&ctx, &csrf).await? else {
        return Ok(());
    };
    let state = &ctx.state;
    let outcome = match action.as_str() {
        "suspend" => platform::suspend(state, &actor, &slug).await.map(|t| {
            format!(
                "{} is suspended: its sign-ins and token requests are refused until it is reactivated.",
                t.slug
            )
        }),
        "reactivate" => platform::reactivate(state, &actor, &slug)
            .await
            .map(|t| format!("{} is active again.", t.slug)),
        "delete" => platform::delete(state, &actor, &slug, &confirm)
            .await
            .map(|()| format!("The tenant {} was deleted with everything in it.", slug.trim())),
        _ => Err(AppError::invalid("Unknown action.")),
    };
    operators::done(&ctx, outcome).await
}

#[cfg(feature = "ssr")]
mod operators {
    use super::server::{self, Ctx};
    use super::{Flash, Platform, PlatformNav, TenantLine};
    use crate::admin::{self, Actor};
    use crate::domain::RequestMeta;
    use crate::domain::{Tenant, TenantStatus, User};
    use crate::error::{AppError, AppResult};
    use crate::state::AppState;
    use leptos::prelude::{use_context, ServerFnError};
    use std::future::Future;
    use tower_sessions::Session;

    pub const HOME: &str = "/admin";
    /// Kept apart from the organisation console's message, which `_ops` has too.
    const FLASH_KEY: &str = "platform.flash";

    fn failed(meta: &RequestMeta, e: impl std::fmt::Display) -> ServerFnError {
        tracing::error!(request_id = ?meta.request_id, error = %e, "platform console request failed");
        ServerFnError::new(match &meta.request_id {
            Some(id) => format!("Something went wrong (request id {id})."),
            None => "Something went wrong.".to_string(),
        })
    }

    /// The request, with the operators' tenant `_ops` as its tenant; `None` while no operator
    /// was ever created.
    pub async fn context() -> Result<Option<Ctx>, ServerFnError> {
        let state =
            use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
        let session: Session = leptos_axum::extract().await?;
        let parts = use_context::<axum::http::request::Parts>()
            .ok_or_else(|| ServerFnError::new("request missing"))?;
        let meta = RequestMeta::from_parts(&parts);
        let ops = admin::platform::operators_tenant(&state)
            .await
            .map_err(|e| failed(&meta, e))?;
        Ok(ops.map(|tenant| Ctx {
            state,
            session,
            meta,
            tenant: tenant.into(),
        }))
    }

    /// The person signed in to `_ops` in this browser, as an actor.
    async fn actor(ctx: &Ctx) -> Result<Option<(Actor, User)>, ServerFnError> {
        let Some((session, user)) = server::signed_in(ctx).await? else {
            return Ok(None);
        };
        let member =
            admin::access::member(&ctx.state, &ctx.tenant, &user, &session, ctx.meta.clone())
                .await
                .map_err(server::internal(ctx))?;
        Ok(Some((Actor::Member(member), user)))
    }

    fn set_status(status: axum::http::StatusCode) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    }

    /// Loads a page: the sign-in offer when nobody is signed in to `_ops`; the use cases in
    /// `page` check again that the actor is an operator.
    pub async fn load<T, F, Fut>(ctx: &Ctx, page: F) -> Result<Platform<T>, ServerFnError>
    where
        F: FnOnce(Actor) -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let csrf = server::csrf(ctx).await?;
        let Some((actor, user)) = actor(ctx).await? else {
            return Ok(Platform::SignedOut { csrf });
        };
        let nav = PlatformNav {
            email: user.email.to_string(),
            csrf,
            flash: ctx.session.remove::<Flash>(FLASH_KEY).await.ok().flatten(),
        };
        match page(actor).await {
            Ok(data) => Ok(Platform::Ready(nav, data)),
            Err(AppError::Forbidden) => {
                set_status(axum::http::StatusCode::FORBIDDEN);
                Err(ServerFnError::new(
                    "Only operators of this installation may open this page.",
                ))
            }
            Err(AppError::Invalid(text)) => Err(ServerFnError::new(text)),
            Err(e) => Err(server::internal(ctx)(e)),
        }
    }

    /// Checks the CSRF token and the operator's sign-in of a form post; on failure, answers it
    /// and gives `None`.
    pub async fn act(ctx: &Ctx, csrf: &str) -> Result<Option<Actor>, ServerFnError> {
        if !server::csrf_ok(ctx, csrf).await {
            done(ctx, Err(csrf_error())).await?;
            return Ok(None);
        }
        match actor(ctx).await? {
            Some((actor, _)) => Ok(Some(actor)),
            None => {
                done(ctx, Err(AppError::Forbidden)).await?;
                Ok(None)
            }
        }
    }

    /// A form post while no operator exists: nobody may do anything here.
    pub fn refuse() -> Result<(), ServerFnError> {
        server::go(HOME)?;
        set_status(axum::http::StatusCode::FORBIDDEN);
        Ok(())
    }

    pub fn csrf_error() -> AppError {
        AppError::invalid("This form expired. Please try again.")
    }

    /// Answers a form post: back to the console with the outcome shown once there. A refusal
    /// also answers 403 (or 404), so a direct call sees it; internal errors are logged with the
    /// request id, never shown.
    pub async fn done(ctx: &Ctx, outcome: AppResult<String>) -> Result<(), ServerFnError> {
        use axum::http::StatusCode;
        let (flash, status) = match outcome {
            Ok(text) => (Flash::done(text), None),
            Err(AppError::Invalid(invalid)) => (Flash::from(invalid), None),
            Err(AppError::Conflict(text)) => (Flash::refused(text), None),
            Err(AppError::Reauthenticate) => (
                Flash::refused(
                    "For your security, confirm it is you (sign in again) before deleting a tenant.",
                ),
                None,
            ),
            Err(AppError::Forbidden) => (
                Flash::refused(
                    "Only operators of this installation may do that: sign in as an operator.",
                ),
                Some(StatusCode::FORBIDDEN),
            ),
            Err(AppError::NotFound) => (
                Flash::refused("That tenant no longer exists."),
                Some(StatusCode::NOT_FOUND),
            ),
            Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => {
                return Err(server::log_fault(&ctx.meta, e))
            }
        };
        server::flash_and_go(ctx, FLASH_KEY, flash, HOME, status).await
    }

    pub fn tenant_line(tenant: &Tenant) -> TenantLine {
        let status = match tenant.status {
            TenantStatus::Active => "Active",
            TenantStatus::Trial => "Trial",
            TenantStatus::Suspended => "Suspended",
        };
        TenantLine {
            slug: tenant.slug.to_string(),
            name: tenant.name.clone(),
            status: status.into(),
            suspended: tenant.status == TenantStatus::Suspended,
            operators: tenant.slug.is_operators(),
            created: server::when(tenant.created_at),
            dedicated: tenant.placement.is_dedicated(),
        }
    }
}
