//! The device-flow page (RFC 8628 §3.3): entering the user code, signing in, approving.

use super::consent::ScopeLine;
#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeviceStep {
    /// Ask for the code shown on the device.
    EnterCode,
    /// The code is valid; the person must sign in first.
    SignIn,
    Confirm {
        client_name: String,
        user_email: String,
        scopes: Vec<ScopeLine>,
    },
    Done {
        approved: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceView {
    pub tenant_name: String,
    /// As the person should see it: `ABCD-EFGH`.
    pub user_code: String,
    pub step: DeviceStep,
    pub csrf: String,
}

#[server(prefix = "/api", endpoint = "device_view")]
pub async fn load_device_page(
    tenant: String,
    user_code: String,
    done: String,
) -> Result<DeviceView, ServerFnError> {
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let mut view = DeviceView {
        tenant_name: ctx.tenant.name.clone(),
        user_code: device::normalize(&user_code)
            .map(|c| device::display(&c))
            .unwrap_or_default(),
        step: DeviceStep::EnterCode,
        csrf: server::csrf(&ctx).await?,
    };
    if let "approved" | "denied" = done.as_str() {
        view.step = DeviceStep::Done {
            approved: done == "approved",
        };
        return Ok(view);
    }
    let Some(grant) = device::pending(&ctx.state, &ctx.tenant, &user_code)
        .await
        .map_err(server::internal(&ctx))?
    else {
        return Ok(view);
    };
    let signed_in = crate::auth::browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?;
    let Some(signed_in) = signed_in else {
        view.step = DeviceStep::SignIn;
        return Ok(view);
    };
    let store = &ctx.state.store;
    let client = store
        .clients
        .by_client_id(ctx.tenant.id, &grant.client_id)
        .await
        .map_err(server::internal(&ctx))?;
    let user = store
        .users
        .by_id(ctx.tenant.id, signed_in.user_id)
        .await
        .map_err(server::internal(&ctx))?;
    if let (Some(client), Some(user)) = (client, user) {
        view.step = DeviceStep::Confirm {
            client_name: client.name,
            user_email: user.email.to_string(),
            scopes: grant
                .scopes
                .iter()
                .map(|s| ScopeLine {
                    scope: s.clone(),
                    description: crate::oidc::scopes::describe(s),
                })
                .collect(),
        };
    }
    Ok(view)
}

#[server(prefix = "/api", endpoint = "device_sign_in")]
pub async fn device_sign_in(
    tenant: String,
    user_code: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let Some(code) = device::normalize(&user_code) else {
        return server::go(&format!("/t/{}/device?error=invalid_code", ctx.tenant.slug));
    };
    let page = format!(
        "/t/{}/device?user_code={}",
        ctx.tenant.slug,
        device::display(&code)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, Some(page))
            .await
            .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
}

#[server(prefix = "/api", endpoint = "device_decide")]
pub async fn device_decide(
    tenant: String,
    user_code: String,
    csrf: String,
    decision: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{AuditEvent, Outcome};
    use crate::oidc::device;
    let ctx = server::context(&tenant).await?;
    let page = format!(
        "/t/{}/device?user_code={}",
        ctx.tenant.slug,
        server::encode(&user_code)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{page}&error=csrf"));
    }
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return server::go(&format!("{page}&error=choice")),
    };
    let signed_in = crate::auth::browser::current_sign_in(&ctx.state, &ctx.session, &ctx.tenant)
        .await
        .map_err(server::internal(&ctx))?;
    let Some(signed_in) = signed_in else {
        return server::go(&page);
    };
    let decided = device::decide(&ctx.state, &ctx.tenant, &user_code, &signed_in, allow)
        .await
        .map_err(server::internal(&ctx))?;
    if !decided {
        return server::go(&format!("/t/{}/device?error=code_expired", ctx.tenant.slug));
    }
    let (action, outcome) = if allow {
        ("device.approved", Outcome::Success)
    } else {
        ("device.denied", Outcome::Failure)
    };
    let event = AuditEvent::new(
        ctx.tenant.id,
        action,
        outcome,
        format!("user:{}", signed_in.user_id),
    );
    ctx.state.audit(event, &ctx.meta).await;
    let done = if allow { "approved" } else { "denied" };
    server::go(&format!("/t/{}/device?done={done}", ctx.tenant.slug))
}
