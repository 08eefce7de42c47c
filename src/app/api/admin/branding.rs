//! The tenant's look: name, logo and support contacts, with a preview before saving.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::app::api::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A tenant's look as its pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandView {
    pub name: String,
    pub logo: Option<String>,
    pub support_url: Option<String>,
    pub support_email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandingPage {
    pub name: String,
    pub primary_colour: String,
    pub support_url: String,
    pub support_email: String,
    pub logo: Option<String>,
    /// A contrast warning for the saved colour.
    pub warning: Option<String>,
    /// The look being previewed (not saved), with its warning.
    pub preview: Option<(BrandView, Option<String>)>,
}

/// Where the branding form keeps a look being previewed.
#[cfg(feature = "ssr")]
pub const PREVIEW_KEY: &str = "console.branding_preview";

/// The look of a tenant for its sign-in, consent, second-factor, recovery and account pages.
#[server(prefix = "/api", endpoint = "brand")]
pub async fn load_brand(tenant: String) -> Result<Option<BrandView>, ServerFnError> {
    let Ok(ctx) = server::context(&tenant).await else {
        return Ok(None);
    };
    Ok(Some(brand_view(&ctx.tenant)))
}

#[server(prefix = "/api", endpoint = "admin_branding")]
pub async fn load_admin_branding(
    tenant: String,
    preview: String,
) -> Result<Console<BrandingPage>, ServerFnError> {
    use crate::admin::branding;
    let ctx = server::context(&tenant).await?;
    let draft: Option<(String, String, String, String)> = if preview == "1" {
        ctx.session.get(PREVIEW_KEY).await.ok().flatten()
    } else {
        None
    };
    console::load(&ctx, Some("branding:manage"), |_| {
        let ctx = &ctx;
        async move {
            let b = &ctx.tenant.settings.branding;
            let saved = branding::Look {
                name: ctx.tenant.name.clone(),
                primary_colour: b.primary_colour.clone().unwrap_or_default(),
                support_url: b.support_url.clone().unwrap_or_default(),
                support_email: b.support_email.clone().unwrap_or_default(),
            };
            let (_, warning) = branding::preview(&ctx.tenant, &saved)?;
            // While previewing, the form holds the look being tried, ready to save.
            let (shown, preview) = match draft {
                Some((name, primary_colour, support_url, support_email)) => {
                    let look = branding::Look {
                        name,
                        primary_colour,
                        support_url,
                        support_email,
                    };
                    let (drafted, warning) = branding::preview(&ctx.tenant, &look)?;
                    (look, Some((brand_view(&drafted), warning)))
                }
                None => (saved, None),
            };
            Ok(BrandingPage {
                name: shown.name,
                primary_colour: shown.primary_colour,
                support_url: shown.support_url,
                support_email: shown.support_email,
                logo: brand_view(&ctx.tenant).logo,
                warning,
                preview,
            })
        }
    })
    .await
}

/// Saves the look, or (`intent = "preview"`) shows it on a sample without saving.
#[server(prefix = "/api", endpoint = "admin_branding_save")]
pub async fn save_branding(
    tenant: String,
    csrf: String,
    name: String,
    #[server(default)] primary_colour: String,
    #[server(default)] support_url: String,
    #[server(default)] support_email: String,
    #[server(default)] intent: String,
) -> Result<(), ServerFnError> {
    use crate::admin::branding;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/branding", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let look = branding::Look {
        name,
        primary_colour,
        support_url,
        support_email,
    };
    if intent == "preview" {
        let checked = actor
            .require(&ctx.tenant, "branding:manage")
            .and_then(|_| branding::preview(&ctx.tenant, &look));
        return match checked {
            Ok(_) => {
                let draft = (
                    look.name,
                    look.primary_colour,
                    look.support_url,
                    look.support_email,
                );
                ctx.session
                    .insert(PREVIEW_KEY, &draft)
                    .await
                    .map_err(server::internal(&ctx))?;
                server::go(&format!("{page}?preview=1#preview"))
            }
            Err(e) => console::done(&ctx, &page, Err(e)).await,
        };
    }
    let outcome = branding::save(&ctx.state, &actor, &ctx.tenant, &look)
        .await
        .map(|(_, warning)| match warning {
            Some(w) => format!("Saved. Note: {w}"),
            None => "Saved: your sign-in pages use the new look.".to_string(),
        });
    console::done(&ctx, &page, outcome).await
}

#[cfg(feature = "ssr")]
fn brand_view(tenant: &crate::domain::Tenant) -> BrandView {
    let b = &tenant.settings.branding;
    BrandView {
        name: tenant.name.clone(),
        logo: b
            .logo
            .as_ref()
            .map(|l| format!("/t/{}/branding/logo?v={}", tenant.slug, l.version)),
        support_url: b.support_url.clone(),
        support_email: b.support_email.clone(),
    }
}
