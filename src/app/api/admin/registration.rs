//! The console's dynamic client registration (RFC 7591): initial access tokens, made with a
//! name, a number of registrations and a lifetime, shown once, revoked.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::{app::api::server, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the uses field is called in messages, alike in the page and on the server.
pub const USES: &str = "The number of registrations";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitialTokenLine {
    pub id: String,
    pub name: String,
    pub hint: String,
    /// "2 of 5".
    pub uses: String,
    pub status: String,
    pub created: String,
    pub expires: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrationPage {
    pub tokens: Vec<InitialTokenLine>,
    pub lifetimes: Vec<i64>,
    pub max_uses: i64,
    /// `{issuer}/register`.
    pub endpoint: String,
    /// The tenant lets applications register without a token.
    pub open_registration: bool,
    /// The token just made, on the one page load right after.
    pub secret: Option<String>,
}

#[server(prefix = "/api", endpoint = "admin_registration")]
pub async fn load_admin_registration(
    tenant: String,
    #[server(default)] show: String,
) -> Result<Console<RegistrationPage>, ServerFnError> {
    use crate::domain::{
        registration::{LIFETIMES_DAYS, MAX_USES},
        InitialTokenStatus, Timestamp,
    };
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("clients:manage"), |actor| {
        let ctx = &ctx;
        async move {
            let now = Timestamp::now();
            let tokens = crate::admin::initial_tokens::list(&ctx.state, &actor, &ctx.tenant)
                .await?
                .into_iter()
                .map(|t| {
                    let status = t.status(now);
                    InitialTokenLine {
                        id: t.id.to_string(),
                        hint: format!("{}…", t.hint),
                        uses: format!("{} of {}", t.uses, t.max_uses),
                        status: status.label().to_owned(),
                        created: server::when(t.created_at),
                        expires: server::when(t.expires_at),
                        active: status == InitialTokenStatus::Active,
                        name: t.name,
                    }
                })
                .collect();
            let secret = if show == "1" {
                crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
                    .await?
                    .and_then(|s| s.into_iter().next())
            } else {
                None
            };
            Ok(RegistrationPage {
                tokens,
                lifetimes: LIFETIMES_DAYS.to_vec(),
                max_uses: MAX_USES,
                endpoint: format!(
                    "{}/register",
                    ctx.state.config.issuer(ctx.tenant.slug.as_str())
                ),
                open_registration: ctx.tenant.settings.open_registration,
                secret,
            })
        }
    })
    .await
}

/// Makes an initial access token and shows it once on the registration page.
#[server(prefix = "/api", endpoint = "admin_initial_token_create")]
pub async fn create_initial_token(
    tenant: String,
    csrf: String,
    name: String,
    uses: String,
    expires: String,
) -> Result<(), ServerFnError> {
    use crate::admin::initial_tokens;
    use crate::domain::{whole_number, Invalid};
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/registration", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let uses = match whole_number(&uses, USES) {
        Ok(uses) => uses,
        Err(refused) => {
            return console::done(&ctx, &page, Err(refused.on("max_uses").into())).await
        }
    };
    let Ok(days) = expires.parse::<i64>() else {
        let refused = Invalid::new("Choose how long the token works.").on("expires");
        return console::done(&ctx, &page, Err(refused.into())).await;
    };
    match initial_tokens::create(&ctx.state, &actor, &ctx.tenant, &name, uses, days).await {
        Ok(made) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[made.secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = format!(
                "The token {} was made. Copy it now: it is shown only this once.",
                made.token.name
            );
            console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// Revokes a token: registrations with it are refused from now on; the applications it
/// registered stay.
#[server(prefix = "/api", endpoint = "admin_initial_token_revoke")]
pub async fn revoke_initial_token(
    tenant: String,
    csrf: String,
    token: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/registration", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "access for this token")?;
        let id = token
            .parse::<uuid::Uuid>()
            .map_err(|_| AppError::NotFound)?;
        crate::admin::initial_tokens::revoke(&ctx.state, &actor, &ctx.tenant, id).await?;
        Ok("The token was revoked: applications can no longer register with it.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}
