//! Server functions of the organisation console (`/t/{slug}/admin`). Each one resolves the
//! signed-in person as an [`crate::admin::Actor`] and calls an `admin/` use case, which checks
//! the permission: what a page hides is never the protection. Outcomes travel as a one-time
//! message kept in the browser session and shown by the next page, so no URL can put text on
//! a console page. One file per area, as `pages/admin/` has them.

mod api_keys;
mod audit;
mod branding;
mod clients;
mod connections;
#[cfg(feature = "ssr")]
mod console;
mod registration;
mod roles;
mod settings;
mod teams;
mod users;
mod webhooks;

pub use api_keys::*;
pub use audit::*;
pub use branding::*;
pub use clients::*;
pub use connections::*;
pub use registration::*;
pub use roles::*;
pub use settings::*;
pub use teams::*;
pub use users::*;
pub use webhooks::*;

#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A result to show once on the next console page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
    /// The form field a refusal is about (a domain rule names it), shown next to that field.
    pub field: Option<String>,
}

impl Flash {
    pub fn done(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
            field: None,
        }
    }

    pub fn refused(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
            field: None,
        }
    }

    /// The refusal for `field`, if it is about that field.
    pub fn about(&self, field: &str) -> Option<String> {
        (!self.ok && self.field.as_deref() == Some(field)).then(|| self.text.clone())
    }
}

impl From<crate::domain::Invalid> for Flash {
    fn from(invalid: crate::domain::Invalid) -> Self {
        Self {
            field: invalid.field().map(str::to_owned),
            ..Self::refused(invalid.message())
        }
    }
}

/// Where the browser session keeps the [`Flash`] until a console page shows it.
#[cfg(feature = "ssr")]
pub const FLASH_KEY: &str = "console.flash";

/// What every console page shows around its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleNav {
    pub tenant: String,
    pub tenant_name: String,
    pub email: String,
    pub csrf: String,
    /// Areas the person may open: `users`, `clients`, `registration`, `roles`, `teams`,
    /// `connections`, `settings`, `audit`, `api-keys`, `webhooks`.
    pub areas: Vec<String>,
    pub flash: Option<Flash>,
}

/// A console page's data, or why it cannot be shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Console<T> {
    /// Not signed in to the tenant: the page offers to sign in.
    SignedOut {
        tenant_name: String,
        csrf: String,
    },
    /// Signed in without the permission this page needs.
    NotAllowed(ConsoleNav),
    Ready(ConsoleNav, T),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The overview: the areas the person may open and, for those who may read the audit log,
/// the tenant's figures.
#[server(prefix = "/api", endpoint = "admin_home")]
pub async fn load_admin_home(
    tenant: String,
) -> Result<Console<Option<crate::domain::insights::Insights>>, ServerFnError> {
    let ctx = &server::context(&tenant).await?;
    console::load(ctx, None, |actor| async move {
        match crate::admin::insights::overview(&ctx.state, &actor, &ctx.tenant).await {
            Ok(insights) => Ok(Some(insights)),
            Err(crate::error::AppError::Forbidden) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

/// "Confirm it is you": a fresh sign-in (with the second factor) that comes back to `page`.
#[server(prefix = "/api", endpoint = "admin_reauth")]
pub async fn admin_sign_in(
    tenant: String,
    csrf: String,
    page: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let back = server::local_page(&ctx, &page);
    if !server::csrf_ok(&ctx, &csrf).await {
        return console::done(&ctx, &back, Err(console::csrf_error())).await;
    }
    let flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, Some(back))
            .await
            .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
}
