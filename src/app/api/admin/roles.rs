//! The console's roles: built-in and custom roles with their permissions.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::{Choice, Console};
#[cfg(feature = "ssr")]
use crate::app::api::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleLine {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub built_in: bool,
    pub holders: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolesPage {
    pub roles: Vec<RoleLine>,
    /// Every permission with what it allows, for the picker.
    pub catalogue: Vec<Choice>,
}

#[server(prefix = "/api", endpoint = "admin_roles")]
pub async fn load_admin_roles(tenant: String) -> Result<Console<RolesPage>, ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("roles:manage"), |actor| {
        let ctx = &ctx;
        async move {
            let mut lines = Vec::new();
            for role in roles::list(&ctx.state, &actor, &ctx.tenant).await? {
                let holders = ctx
                    .state
                    .store
                    .access
                    .role_holders(ctx.tenant.id, &role.id)
                    .await?
                    .len();
                lines.push(RoleLine {
                    id: role.id.clone(),
                    name: role.name.clone(),
                    description: role.description.clone(),
                    permissions: role
                        .permissions
                        .iter()
                        .map(|p| p.as_str().to_owned())
                        .collect(),
                    built_in: role.built_in,
                    holders,
                });
            }
            Ok(RolesPage {
                roles: lines,
                catalogue: crate::domain::access::CATALOGUE
                    .iter()
                    .map(|(p, what)| Choice {
                        value: (*p).into(),
                        label: (*what).into(),
                    })
                    .collect(),
            })
        }
    })
    .await
}

/// Creates a custom role (empty `role`) or saves one.
#[server(prefix = "/api", endpoint = "admin_role_save")]
pub async fn save_role(
    tenant: String,
    csrf: String,
    #[server(default)] role: String,
    name: String,
    #[server(default)] description: String,
    #[server(default)] permissions: Vec<String>,
) -> Result<(), ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/roles", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let outcome = if role.is_empty() {
        roles::create(state, &actor, t, &name, &description, &permissions)
            .await
            .map(|r| format!("The role {} was created.", r.name))
    } else {
        roles::update(state, &actor, t, &role, &name, &description, &permissions)
            .await
            .map(|r| format!("The role {} was saved.", r.name))
    };
    console::done(&ctx, &page, outcome).await
}

#[server(prefix = "/api", endpoint = "admin_role_delete")]
pub async fn delete_role(
    tenant: String,
    csrf: String,
    role: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/roles", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "the role")?;
        crate::admin::roles::delete(&ctx.state, &actor, &ctx.tenant, &role).await?;
        Ok("The role was deleted.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}
