//! The console's webhooks: endpoints added with the events they hear of and a signing secret
//! shown once, changed, enabled and disabled, removed; their delivery log, a test event, and
//! sending a logged message again.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::{Choice, Console};
#[cfg(feature = "ssr")]
use crate::{
    admin::Actor,
    app::api::server::{self, Ctx},
    domain::{DeliveryAttempt, Timestamp, WebhookEndpoint},
    error::{AppError, AppResult},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The permission every webhook page and action needs.
#[cfg(feature = "ssr")]
const MANAGE: &str = "webhooks:manage";
/// Attempts the endpoint's page shows.
#[cfg(feature = "ssr")]
const LOG_SHOWN: u32 = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookLine {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// "Enabled", "Disabled", or "Disabled automatically: <reason>".
    pub status: String,
    /// Why Tessera disabled it, when it did (deliveries kept failing).
    pub disabled_reason: Option<String>,
    /// The first failure since the last success, when deliveries are failing.
    pub failing_since: Option<String>,
    pub created: String,
    pub updated: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhooksPage {
    pub endpoints: Vec<WebhookLine>,
    /// Every event type an endpoint may receive, with what it means.
    pub events: Vec<Choice>,
    /// Whether plain `http` and private addresses are allowed (development installations).
    pub allow_http: bool,
    /// A signing secret just made, on the one page load right after.
    pub secret: Option<String>,
}

/// One attempt of the delivery log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryLine {
    pub id: String,
    pub at: String,
    pub event_type: String,
    pub message_id: String,
    pub attempt: i32,
    /// The receiver's HTTP status, or "—" when it gave none.
    pub status: String,
    pub latency_ms: i64,
    /// The start of the receiver's answer, or why none came.
    pub response: String,
    pub succeeded: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookPage {
    pub endpoint: WebhookLine,
    pub events: Vec<Choice>,
    pub allow_http: bool,
    /// Newest first.
    pub deliveries: Vec<DeliveryLine>,
    /// The signing secret, on the one page load right after it was made or replaced.
    pub secret: Option<String>,
}

#[server(prefix = "/api", endpoint = "admin_webhooks")]
pub async fn load_admin_webhooks(
    tenant: String,
    #[server(default)] show: String,
) -> Result<Console<WebhooksPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some(MANAGE), |actor| {
        let ctx = &ctx;
        async move {
            let endpoints = crate::admin::webhooks::list(&ctx.state, &actor, &ctx.tenant)
                .await?
                .iter()
                .map(line)
                .collect();
            Ok(WebhooksPage {
                endpoints,
                events: event_choices(),
                allow_http: ctx.state.config.webhooks.allow_private_networks,
                secret: shown_once(ctx, show == "1").await?,
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_webhook")]
pub async fn load_admin_webhook(
    tenant: String,
    id: String,
    #[server(default)] show: String,
) -> Result<Console<WebhookPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some(MANAGE), |actor| {
        let ctx = &ctx;
        async move { webhook_page(ctx, &actor, &id, show == "1").await }
    })
    .await
}

/// Adds an endpoint; its secret is shown once on its page.
#[server(prefix = "/api", endpoint = "admin_webhook_create")]
pub async fn create_webhook(
    tenant: String,
    csrf: String,
    url: String,
    #[server(default)] description: String,
    #[server(default)] events: Vec<String>,
) -> Result<(), ServerFnError> {
    use crate::admin::webhooks;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/webhooks", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    match webhooks::create(&ctx.state, &actor, &ctx.tenant, &url, &description, &events).await {
        Ok(made) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[made.secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = format!(
                "The endpoint {} was added. Copy its signing secret now: it is shown only this once.",
                made.endpoint.url
            );
            let to = format!("{page}/{}?show=1", made.endpoint.id);
            console::done(&ctx, &to, Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// Changes an endpoint's URL, description and events.
#[server(prefix = "/api", endpoint = "admin_webhook_update")]
pub async fn update_webhook(
    tenant: String,
    csrf: String,
    id: String,
    url: String,
    #[server(default)] description: String,
    #[server(default)] events: Vec<String>,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let changes = crate::domain::webhook::EndpointChanges {
            url: Some(url),
            description: Some(description),
            events: Some(events),
        };
        let id = endpoint_id(&id)?;
        crate::admin::webhooks::update(&ctx.state, &actor, &ctx.tenant, id, &changes).await?;
        Ok("The endpoint was saved.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// Turns deliveries on (`enabled` = `true`) or off.
#[server(prefix = "/api", endpoint = "admin_webhook_enable")]
pub async fn set_webhook_enabled(
    tenant: String,
    csrf: String,
    id: String,
    enabled: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let id = endpoint_id(&id)?;
        let on = enabled == "true";
        crate::admin::webhooks::set_enabled(&ctx.state, &actor, &ctx.tenant, id, on).await?;
        Ok(if on {
            "The endpoint is enabled: events are delivered to it again.".to_string()
        } else {
            "The endpoint is disabled: no events are delivered to it.".to_string()
        })
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// Replaces the signing secret at once; the new one is shown once.
#[server(prefix = "/api", endpoint = "admin_webhook_rotate")]
pub async fn rotate_webhook_secret(
    tenant: String,
    csrf: String,
    id: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let rotated = async {
        let id = endpoint_id(&id)?;
        crate::admin::webhooks::rotate_secret(&ctx.state, &actor, &ctx.tenant, id).await
    }
    .await;
    match rotated {
        Ok(made) => {
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[made.secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = "A new signing secret was made and the old one no longer signs deliveries. Copy it now: it is shown only this once.".to_string();
            console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// Removes an endpoint and its delivery log.
#[server(prefix = "/api", endpoint = "admin_webhook_delete")]
pub async fn delete_webhook(
    tenant: String,
    csrf: String,
    id: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "this endpoint and its delivery log")?;
        let id = endpoint_id(&id)?;
        crate::admin::webhooks::delete(&ctx.state, &actor, &ctx.tenant, id).await?;
        Ok("The endpoint was deleted: no more events are sent to it.".to_string())
    }
    .await;
    match outcome {
        Ok(text) => {
            let list = format!("/t/{}/admin/webhooks", ctx.tenant.slug);
            console::done(&ctx, &list, Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// Queues a `webhook.test` message for the endpoint.
#[server(prefix = "/api", endpoint = "admin_webhook_test")]
pub async fn send_webhook_test(
    tenant: String,
    csrf: String,
    id: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let id = endpoint_id(&id)?;
        crate::admin::webhooks::send_test(&ctx.state, &actor, &ctx.tenant, id).await?;
        Ok(
            "A test event was queued: it appears in the log below within a few seconds."
                .to_string(),
        )
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// Sends the message of a logged attempt again, with the same `webhook-id`.
#[server(prefix = "/api", endpoint = "admin_webhook_redeliver")]
pub async fn redeliver_webhook(
    tenant: String,
    csrf: String,
    id: String,
    attempt: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = webhook_url(&ctx, &id);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let (id, attempt) = (endpoint_id(&id)?, endpoint_id(&attempt)?);
        let logged =
            crate::admin::webhooks::redeliver(&ctx.state, &actor, &ctx.tenant, id, attempt)
                .await?;
        Ok(format!(
            "The message {} was queued again: the new attempt appears in the log below within a few seconds.",
            logged.message_id
        ))
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

#[cfg(feature = "ssr")]
fn endpoint_id(raw: &str) -> AppResult<uuid::Uuid> {
    raw.trim().parse().map_err(|_| AppError::NotFound)
}

/// The endpoint's console page, or the list when `id` is no endpoint id.
#[cfg(feature = "ssr")]
fn webhook_url(ctx: &Ctx, id: &str) -> String {
    match endpoint_id(id) {
        Ok(id) => format!("/t/{}/admin/webhooks/{id}", ctx.tenant.slug),
        Err(_) => format!("/t/{}/admin/webhooks", ctx.tenant.slug),
    }
}

#[cfg(feature = "ssr")]
fn event_choices() -> Vec<Choice> {
    crate::domain::webhook::EVENT_TYPES
        .iter()
        .map(|(value, what)| Choice {
            value: (*value).to_owned(),
            label: (*what).to_owned(),
        })
        .collect()
}

#[cfg(feature = "ssr")]
fn line(endpoint: &WebhookEndpoint) -> WebhookLine {
    let status = match (&endpoint.disabled_reason, endpoint.enabled) {
        (_, true) => "Enabled".to_string(),
        (Some(reason), false) => format!("Disabled automatically: {reason}"),
        (None, false) => "Disabled".to_string(),
    };
    WebhookLine {
        id: endpoint.id.to_string(),
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        events: endpoint.events.clone(),
        enabled: endpoint.enabled,
        status,
        disabled_reason: endpoint
            .disabled_reason
            .clone()
            .filter(|_| !endpoint.enabled),
        failing_since: endpoint.failing_since.map(server::when),
        created: server::when(endpoint.created_at),
        updated: server::when(endpoint.updated_at),
    }
}

/// A time to the second, in UTC: attempts of a message can be seconds apart.
#[cfg(feature = "ssr")]
fn to_the_second(at: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.unix())
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn delivery(attempt: DeliveryAttempt) -> DeliveryLine {
    DeliveryLine {
        id: attempt.id.to_string(),
        at: to_the_second(attempt.at),
        event_type: attempt.event_type,
        message_id: attempt.message_id,
        attempt: attempt.attempt,
        status: attempt
            .status
            .map_or_else(|| "—".to_string(), |s| s.to_string()),
        latency_ms: attempt.latency_ms,
        response: attempt.response,
        succeeded: attempt.succeeded,
    }
}

/// The secret stashed for this browser by the action just taken, when the page asks for it
/// (`?show=1`): taken, so a reload shows it no more.
#[cfg(feature = "ssr")]
async fn shown_once(ctx: &Ctx, show: bool) -> AppResult<Option<String>> {
    if !show {
        return Ok(None);
    }
    Ok(
        crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
            .await?
            .and_then(|s| s.into_iter().next()),
    )
}

#[cfg(feature = "ssr")]
async fn webhook_page(ctx: &Ctx, actor: &Actor, id: &str, show: bool) -> AppResult<WebhookPage> {
    use crate::admin::webhooks;
    let id = endpoint_id(id)?;
    let endpoint = webhooks::get(&ctx.state, actor, &ctx.tenant, id).await?;
    let deliveries = webhooks::deliveries(&ctx.state, actor, &ctx.tenant, id, LOG_SHOWN)
        .await?
        .into_iter()
        .map(delivery)
        .collect();
    let secret = shown_once(ctx, show).await?;
    Ok(WebhookPage {
        endpoint: line(&endpoint),
        events: event_choices(),
        allow_http: ctx.state.config.webhooks.allow_private_networks,
        deliveries,
        secret,
    })
}
