//! The console's API keys: made with a name, permissions and a lifetime, shown once, revoked.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::{Choice, Console};
#[cfg(feature = "ssr")]
use crate::{app::api::server, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyLine {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub permissions: Vec<String>,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub status: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeysPage {
    pub keys: Vec<ApiKeyLine>,
    /// The permissions the signed-in person holds, so may give a key.
    pub permissions: Vec<Choice>,
    pub lifetimes: Vec<i64>,
    /// The key just made, on the one page load right after.
    pub secret: Option<String>,
}

#[server(prefix = "/api", endpoint = "admin_api_keys")]
pub async fn load_admin_api_keys(
    tenant: String,
    #[server(default)] show: String,
) -> Result<Console<ApiKeysPage>, ServerFnError> {
    use crate::domain::{access::CATALOGUE, api_key::LIFETIMES_DAYS, Timestamp};
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("api_keys:manage"), |actor| {
        let ctx = &ctx;
        async move {
            let now = Timestamp::now();
            let keys = crate::admin::api_keys::list(&ctx.state, &actor, &ctx.tenant)
                .await?
                .into_iter()
                .map(|k| {
                    let status = k.status(now);
                    ApiKeyLine {
                        id: k.id.to_string(),
                        name: k.name,
                        hint: format!("{}…", k.hint),
                        permissions: k.permissions.iter().map(|p| p.to_string()).collect(),
                        created: server::when(k.created_at),
                        expires: server::when(k.expires_at),
                        last_used: k.last_used_at.map(server::when).unwrap_or_default(),
                        status: status.label().to_owned(),
                        active: status == crate::domain::KeyStatus::Active,
                    }
                })
                .collect();
            let permissions = CATALOGUE
                .iter()
                .filter(|(p, _)| actor.require(&ctx.tenant, p).is_ok())
                .map(|(p, what)| Choice {
                    value: (*p).to_owned(),
                    label: format!("{p}: {what}"),
                })
                .collect();
            let secret = if show == "1" {
                crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
                    .await?
                    .and_then(|s| s.into_iter().next())
            } else {
                None
            };
            Ok(ApiKeysPage {
                keys,
                permissions,
                lifetimes: LIFETIMES_DAYS.to_vec(),
                secret,
            })
        }
    })
    .await
}

/// Makes a key and shows it once on the keys page.
#[server(prefix = "/api", endpoint = "admin_api_key_create")]
pub async fn create_api_key(
    tenant: String,
    csrf: String,
    name: String,
    #[server(default)] permissions: Vec<String>,
    expires: String,
) -> Result<(), ServerFnError> {
    use crate::admin::api_keys;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/api-keys", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let Ok(days) = expires.parse::<i64>() else {
        let refused = crate::domain::Invalid::new("Choose how long the key works.").on("expires");
        return console::done(&ctx, &page, Err(refused.into())).await;
    };
    match api_keys::create(&ctx.state, &actor, &ctx.tenant, &name, &permissions, days).await {
        Ok(made) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[made.secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = format!(
                "The key {} was made. Copy it now: it is shown only this once.",
                made.key.name
            );
            console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// Revokes a key: whatever uses it is refused from now on.
#[server(prefix = "/api", endpoint = "admin_api_key_revoke")]
pub async fn revoke_api_key(
    tenant: String,
    csrf: String,
    key: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/api-keys", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "access for this key")?;
        let id = key.parse::<uuid::Uuid>().map_err(|_| AppError::NotFound)?;
        crate::admin::api_keys::revoke(&ctx.state, &actor, &ctx.tenant, id).await?;
        Ok("The key was revoked: it no longer works.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}
