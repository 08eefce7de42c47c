//! Server functions of "forgot password", the reset link, and email verification links.

#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryView {
    pub tenant_name: String,
    /// For the reset page: the account of a valid link; `None` when the link is not valid.
    pub email: Option<String>,
    pub csrf: String,
}

#[server(prefix = "/api", endpoint = "recovery_view")]
pub async fn load_recovery_page(
    tenant: String,
    token: String,
) -> Result<RecoveryView, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let email = if token.is_empty() {
        None
    } else {
        crate::auth::recovery::reset_link_email(&ctx.state, &ctx.tenant, &token)
            .await
            .map_err(server::internal(&ctx))?
    };
    Ok(RecoveryView {
        tenant_name: ctx.tenant.name.clone(),
        email,
        csrf: server::csrf(&ctx).await?,
    })
}

#[server(prefix = "/api", endpoint = "recovery_request")]
pub async fn request_reset(
    tenant: String,
    csrf: String,
    email: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/forgot-password", ctx.tenant.slug);
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}?error=csrf"));
    }
    match crate::auth::recovery::request_reset(&ctx.state, &ctx.meta, &ctx.tenant, &email).await {
        Ok(()) => server::go(&format!("{page}?done=sent")),
        Err(AppError::Invalid(_)) => server::go(&format!("{page}?error=invalid_email")),
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}

#[server(prefix = "/api", endpoint = "recovery_reset")]
pub async fn reset_password(
    tenant: String,
    csrf: String,
    token: String,
    password: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = format!(
        "/t/{}/reset-password?token={}",
        ctx.tenant.slug,
        server::encode(&token)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    match crate::auth::recovery::reset_password(
        &ctx.state,
        &ctx.meta,
        &ctx.tenant,
        &token,
        password,
    )
    .await
    {
        Ok(true) => server::go(&format!("/t/{}/login?done=password_reset", ctx.tenant.slug)),
        Ok(false) => server::go(&format!(
            "/t/{}/reset-password?error=link_invalid",
            ctx.tenant.slug
        )),
        Err(AppError::Invalid(_)) => server::go(&format!("{page}&error=weak_password")),
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}

/// Opening a verification link marks the address verified (a GET with a single-use token).
#[server(prefix = "/api", endpoint = "verify_email")]
pub async fn verify_email(tenant: String, token: String) -> Result<bool, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    crate::auth::account::verify_email(&ctx.state, &ctx.meta, &ctx.tenant, &token)
        .await
        .map_err(server::internal(&ctx))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignUpView {
    pub tenant_name: String,
    /// The tenant lets people create their own account.
    pub open: bool,
    pub csrf: String,
}

#[server(prefix = "/api", endpoint = "signup_view")]
pub async fn load_signup_page(tenant: String) -> Result<SignUpView, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    Ok(SignUpView {
        tenant_name: ctx.tenant.name.clone(),
        open: ctx.tenant.settings.self_signup,
        csrf: server::csrf(&ctx).await?,
    })
}

/// Self sign-up: the same answer whether or not the address has an account.
#[server(prefix = "/api", endpoint = "signup")]
pub async fn sign_up(
    tenant: String,
    csrf: String,
    email: String,
    #[server(default)] name: String,
) -> Result<(), ServerFnError> {
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/signup", ctx.tenant.slug);
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}?error=csrf"));
    }
    match crate::auth::signup::request(&ctx.state, &ctx.meta, &ctx.tenant, &email, &name).await {
        Ok(()) => server::go(&format!("{page}?done=signup_sent")),
        Err(AppError::Invalid(_)) => server::go(&format!("{page}?error=invalid_signup")),
        Err(AppError::Forbidden) => server::go(&format!("{page}?error=signup_closed")),
        Err(e) => Err(server::internal(&ctx)(e)),
    }
}
