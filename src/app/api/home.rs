//! The tenant's home page for a signed-in person, and signing out.

#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HomeView {
    pub tenant_name: String,
    pub signed_in_as: Option<String>,
    pub csrf: String,
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
