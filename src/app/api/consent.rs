//! The consent page: what an application asks for, and the person's answer.

#[cfg(feature = "ssr")]
use super::server;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeLine {
    pub scope: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub tenant_name: String,
    pub client_name: String,
    /// The application's https logo, when it registered one.
    pub client_logo: Option<String>,
    /// It registered itself (RFC 7591): no admin of the organisation has reviewed it.
    pub self_registered: bool,
    pub user_email: String,
    pub scopes: Vec<ScopeLine>,
    pub flow: String,
    pub csrf: String,
}

#[server(prefix = "/api", endpoint = "consent_view")]
pub async fn load_consent_page(
    tenant: String,
    flow: String,
) -> Result<Option<ConsentView>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let Some((flow, client, user)) = server::consent_flow(&ctx, &flow).await? else {
        return Ok(None);
    };
    let scopes = flow
        .request
        .iter()
        .flat_map(|r| r.scopes.iter())
        .map(|s| ScopeLine {
            scope: s.clone(),
            description: crate::oidc::scopes::describe(s),
        })
        .collect();
    Ok(Some(ConsentView {
        tenant_name: ctx.tenant.name.clone(),
        client_name: client.name,
        self_registered: client.registration_token_hash.is_some(),
        client_logo: client.logo_uri,
        user_email: user.email.to_string(),
        scopes,
        flow: flow.id,
        csrf: server::csrf(&ctx).await?,
    }))
}

#[server(prefix = "/api", endpoint = "consent")]
pub async fn submit_consent(
    tenant: String,
    flow: String,
    csrf: String,
    decision: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{AuditEvent, Consent, Outcome, Timestamp};
    let ctx = server::context(&tenant).await?;
    let consent_page = format!(
        "/t/{}/consent?flow={}",
        ctx.tenant.slug,
        server::encode(&flow)
    );
    if !server::csrf_ok(&ctx, &csrf).await {
        return server::go(&format!("{consent_page}&error=csrf"));
    }
    let Some((mut flow, client, user)) = server::consent_flow(&ctx, &flow).await? else {
        return server::go(&format!("/t/{}/error?code=expired", ctx.tenant.slug));
    };
    let Some(request) = flow.request.as_mut() else {
        return server::go(&format!("/t/{}/error?code=expired", ctx.tenant.slug));
    };
    match decision.as_str() {
        "allow" => {
            let mut scopes = ctx
                .state
                .store
                .consents
                .get(ctx.tenant.id, user.id, &client.client_id)
                .await
                .map_err(server::internal(&ctx))?
                .map(|c| c.scopes)
                .unwrap_or_default();
            scopes.extend(
                request
                    .scopes
                    .iter()
                    .filter(|s| !scopes.contains(s))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let consent = Consent {
                tenant_id: ctx.tenant.id,
                user_id: user.id,
                client_id: client.client_id.clone(),
                scopes,
                granted_at: Timestamp::now(),
            };
            ctx.state
                .store
                .consents
                .upsert(ctx.tenant.id, &consent)
                .await
                .map_err(server::internal(&ctx))?;
            request.prompt_consent = false;
            let event = AuditEvent::new(
                ctx.tenant.id,
                "consent.granted",
                Outcome::Success,
                format!("user:{}", user.id),
            )
            .target(format!("client:{}", client.client_id))
            .reason(request.scopes.join(" "));
            ctx.state.audit(event, &ctx.meta).await;
        }
        "deny" => flow.denied = true,
        _ => return server::go(&format!("{consent_page}&error=choice")),
    }
    ctx.state
        .store
        .artifacts
        .put_flow(ctx.tenant.id, &flow)
        .await
        .map_err(server::internal(&ctx))?;
    server::go(&format!(
        "/t/{}/authorize/resume?flow={}",
        ctx.tenant.slug, flow.id
    ))
}
