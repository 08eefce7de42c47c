//! What every console server function shares: who is acting, the CSRF check, loading a page
//! and answering a form with a one-time message.

use super::super::server::{self, Ctx};
use super::{Choice, Console, ConsoleNav, Flash, FLASH_KEY};
use crate::admin::{self, Actor};
use crate::domain::{Invalid, Role, User, UserId};
use crate::error::{AppError, AppResult};
use leptos::prelude::ServerFnError;
use std::future::Future;

/// The signed-in person of the tenant as a console actor, if any.
async fn actor(ctx: &Ctx) -> Result<Option<(Actor, User)>, ServerFnError> {
    let Some((session, user)) = server::signed_in(ctx).await? else {
        return Ok(None);
    };
    let member = admin::access::member(&ctx.state, &ctx.tenant, &user, &session, ctx.meta.clone())
        .await
        .map_err(server::internal(ctx))?;
    Ok(Some((Actor::Member(member), user)))
}

/// Loads a console page: signed out and not-allowed answers are pages of their own; the
/// use cases in `page` check permissions again for everything they touch.
pub async fn load<T, F, Fut>(
    ctx: &Ctx,
    needs: Option<&str>,
    page: F,
) -> Result<Console<T>, ServerFnError>
where
    F: FnOnce(Actor) -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let csrf = server::csrf(ctx).await?;
    let Some((actor, user)) = actor(ctx).await? else {
        return Ok(Console::SignedOut {
            tenant_name: ctx.tenant.name.clone(),
            csrf,
        });
    };
    let areas = [
        ("users", "users:read"),
        ("clients", "clients:manage_own"),
        ("registration", "clients:manage"),
        ("roles", "roles:manage"),
        ("teams", "teams:manage"),
        ("connections", "connections:manage"),
        ("branding", "branding:manage"),
        ("settings", "settings:manage"),
        ("audit", "audit:read"),
        ("api-keys", "api_keys:manage"),
        ("webhooks", "webhooks:manage"),
    ]
    .iter()
    .filter(|(_, p)| actor.require(&ctx.tenant, p).is_ok())
    .map(|(a, _)| (*a).to_owned())
    .collect();
    let nav = ConsoleNav {
        tenant: ctx.tenant.slug.to_string(),
        tenant_name: ctx.tenant.name.clone(),
        email: user.email.to_string(),
        csrf,
        areas,
        flash: take_flash(ctx).await,
    };
    if needs.is_some_and(|p| actor.require(&ctx.tenant, p).is_err()) {
        return Ok(Console::NotAllowed(nav));
    }
    match page(actor).await {
        Ok(data) => Ok(Console::Ready(nav, data)),
        Err(AppError::Forbidden) => Ok(Console::NotAllowed(nav)),
        Err(AppError::NotFound) => {
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(axum::http::StatusCode::NOT_FOUND);
            }
            Err(ServerFnError::new("not found"))
        }
        // Malformed filters or cursors: the page says what is wrong with them.
        Err(AppError::Invalid(text)) => Err(ServerFnError::new(text)),
        Err(e) => Err(server::internal(ctx)(e)),
    }
}

/// Checks the CSRF token and the sign-in of a form post; on failure, answers it (back to
/// `page` with a message, or to the sign-in) and gives `None`.
pub async fn act(ctx: &Ctx, csrf: &str, page: &str) -> Result<Option<Actor>, ServerFnError> {
    if !server::csrf_ok(ctx, csrf).await {
        done(ctx, page, Err(csrf_error())).await?;
        return Ok(None);
    }
    match actor(ctx).await? {
        Some((actor, _)) => Ok(Some(actor)),
        None => {
            server::go(page)?;
            Ok(None)
        }
    }
}

/// A deletion's "I mean it" box was ticked (a checkbox, so it works without JavaScript).
pub fn confirmed(confirm: &str, what: &str) -> Result<(), Invalid> {
    if confirm == "yes" {
        return Ok(());
    }
    let unticked = Invalid::new(format!("Tick the box to confirm deleting {what}."));
    Err(unticked.on("confirm"))
}

pub fn csrf_error() -> AppError {
    AppError::invalid("This form expired. Please try again.")
}

/// Answers a form post: back to `page`, with the outcome shown once there. A refusal
/// (no permission, or an id this tenant does not have) also answers 403 or 404, so a direct
/// call sees it; internal errors are logged with the request id, never shown.
pub async fn done(ctx: &Ctx, page: &str, outcome: AppResult<String>) -> Result<(), ServerFnError> {
    use axum::http::StatusCode;
    let (flash, status) = match outcome {
        Ok(text) => (Flash::done(text), None),
        Err(AppError::Invalid(invalid)) => (Flash::from(invalid), None),
        Err(AppError::Conflict(text)) => (Flash::refused(text), None),
        Err(AppError::Reauthenticate) => (
            Flash::refused(
                "For your security, confirm it is you (sign in again) before making this change.",
            ),
            None,
        ),
        Err(AppError::Forbidden) => (
            Flash::refused("You do not have permission to do that."),
            Some(StatusCode::FORBIDDEN),
        ),
        Err(AppError::NotFound) => (
            Flash::refused("That item no longer exists."),
            Some(StatusCode::NOT_FOUND),
        ),
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => {
            return Err(server::log_fault(&ctx.meta, e))
        }
    };
    server::flash_and_go(ctx, FLASH_KEY, flash, page, status).await
}

async fn take_flash(ctx: &Ctx) -> Option<Flash> {
    ctx.session.remove::<Flash>(FLASH_KEY).await.ok().flatten()
}

pub fn user_id(raw: &str) -> AppResult<UserId> {
    raw.parse().map_err(|_| AppError::NotFound)
}

pub fn team_id(raw: &str) -> AppResult<uuid::Uuid> {
    raw.parse().map_err(|_| AppError::NotFound)
}

pub fn role_choice(role: &Role) -> Choice {
    Choice {
        value: role.id.clone(),
        label: role.name.clone(),
    }
}
