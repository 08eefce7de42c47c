//! Webhook endpoints of a tenant: added with the events they hear of and a signing secret shown
//! once (sealed at rest), changed, enabled and disabled, removed; their delivery log, a test
//! event, and sending a logged message again. Every change is audited.

use super::{audit, audit_with, audited, event_of, Actor};
use crate::crypto::webhook::new_secret;
use crate::domain::webhook::EndpointChanges;
use crate::domain::{
    AuditEvent, DeliveryAttempt, Job, Tenant, TenantId, Timestamp, WebhookEndpoint,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::outbox::Message;
use uuid::Uuid;

const MANAGE: &str = "webhooks:manage";
/// Attempts the delivery log shows at most.
pub const LOG_LIMIT: u32 = 100;

/// An endpoint just made, or whose secret was just replaced: `secret` is the `whsec_…` text,
/// shown this once.
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// The associated data that binds a sealed secret to its endpoint.
pub fn seal_context(tenant: TenantId, id: Uuid) -> String {
    format!("webhook-secret:{tenant}:{id}")
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
) -> AppResult<Vec<WebhookEndpoint>> {
    actor.require(tenant, MANAGE)?;
    Ok(state.store.webhooks.endpoints(tenant.id).await?)
}

/// The endpoint `id` of the tenant; `NotFound` for an unknown one or one of another tenant.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
) -> AppResult<WebhookEndpoint> {
    actor.require(tenant, MANAGE)?;
    find(state, tenant, id).await
}

async fn find(state: &AppState, tenant: &Tenant, id: Uuid) -> AppResult<WebhookEndpoint> {
    state
        .store
        .webhooks
        .endpoint(tenant.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Adds an endpoint. It hears of the tenant's events, so adding one is sensitive (a recent
/// sign-in), like creating a credential.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    url: &str,
    description: &str,
    events: &[String],
) -> AppResult<WithSecret> {
    actor.require_fresh(tenant, MANAGE)?;
    let (bytes, secret) = new_secret();
    let mut endpoint = WebhookEndpoint::new(
        tenant.id,
        url,
        description,
        events,
        Vec::new(),
        state.config.webhooks.allow_private_networks,
        Timestamp::now(),
    )?;
    endpoint.secret = state
        .secrets
        .seal(&bytes, &seal_context(tenant.id, endpoint.id));
    let event = event_of(actor, tenant.id, "webhook.created", target(endpoint.id)).reason(format!(
        "url={} events={}",
        endpoint.url,
        endpoint.events.join(",")
    ));
    let change = state.store.webhooks.create_endpoint(tenant.id, &endpoint);
    audited(state, actor, event, change).await?;
    Ok(WithSecret { endpoint, secret })
}

/// Changes an endpoint's URL, description or events.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    changes: &EndpointChanges,
) -> AppResult<WebhookEndpoint> {
    actor.require_fresh(tenant, MANAGE)?;
    let mut endpoint = find(state, tenant, id).await?;
    changes.apply(&mut endpoint, state.config.webhooks.allow_private_networks)?;
    endpoint.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "webhook.updated", target(id)).reason(format!(
        "url={} events={}",
        endpoint.url,
        endpoint.events.join(",")
    ));
    save(state, actor, &endpoint, event).await?;
    Ok(endpoint)
}

/// Turns deliveries to the endpoint on or off. Enabling one that Tessera disabled starts its
/// failure count afresh.
pub async fn set_enabled(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    enabled: bool,
) -> AppResult<WebhookEndpoint> {
    actor.require(tenant, MANAGE)?;
    let mut endpoint = find(state, tenant, id).await?;
    endpoint.enabled = enabled;
    endpoint.disabled_reason = None;
    endpoint.failing_since = None;
    endpoint.updated_at = Timestamp::now();
    let action = if enabled {
        "webhook.enabled"
    } else {
        "webhook.disabled"
    };
    save(
        state,
        actor,
        &endpoint,
        event_of(actor, tenant.id, action, target(id)),
    )
    .await?;
    Ok(endpoint)
}

/// Replaces the signing secret at once; the new one is shown this once.
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
) -> AppResult<WithSecret> {
    actor.require_fresh(tenant, MANAGE)?;
    let mut endpoint = find(state, tenant, id).await?;
    let (bytes, secret) = new_secret();
    endpoint.secret = state.secrets.seal(&bytes, &seal_context(tenant.id, id));
    endpoint.updated_at = Timestamp::now();
    let event = event_of(actor, tenant.id, "webhook.secret_rotated", target(id));
    save(state, actor, &endpoint, event).await?;
    Ok(WithSecret { endpoint, secret })
}

pub async fn delete(state: &AppState, actor: &Actor, tenant: &Tenant, id: Uuid) -> AppResult<()> {
    actor.require(tenant, MANAGE)?;
    let event = event_of(actor, tenant.id, "webhook.deleted", target(id));
    let change = state.store.webhooks.delete_endpoint(tenant.id, id);
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The endpoint's delivery log, newest first.
pub async fn deliveries(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    limit: u32,
) -> AppResult<Vec<DeliveryAttempt>> {
    actor.require(tenant, MANAGE)?;
    find(state, tenant, id).await?;
    Ok(state
        .store
        .webhooks
        .attempts(tenant.id, id, limit.clamp(1, LOG_LIMIT))
        .await?)
}

/// Queues a `webhook.test` message for the endpoint (enabled or not: that is how one checks a
/// receiver before turning it back on). Returns its `webhook-id`.
pub async fn send_test(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
) -> AppResult<String> {
    actor.require(tenant, MANAGE)?;
    let endpoint = find(state, tenant, id).await?;
    let message = Message::test(&endpoint, &actor.audit_name(), Timestamp::now());
    queue(state, tenant, message.delivery(tenant.id)).await?;
    audit(state, actor, tenant.id, "webhook.test_sent", target(id)).await;
    Ok(message.message_id)
}

/// Sends the message of a logged attempt of the endpoint again, with its `webhook-id`, so that
/// a receiver that handled it already can tell. `NotFound` for an attempt of another endpoint
/// or tenant.
pub async fn redeliver(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    endpoint: Uuid,
    attempt: Uuid,
) -> AppResult<DeliveryAttempt> {
    actor.require(tenant, MANAGE)?;
    let logged = state
        .store
        .webhooks
        .attempt(tenant.id, attempt)
        .await?
        .filter(|a| a.endpoint_id == endpoint)
        .ok_or(AppError::NotFound)?;
    find(state, tenant, endpoint).await?;
    let message = Message {
        endpoint_id: logged.endpoint_id,
        message_id: logged.message_id.clone(),
        event_type: logged.event_type.clone(),
        body: logged.payload.clone(),
    };
    queue(state, tenant, message.redelivery(tenant.id)).await?;
    audit_with(
        state,
        actor,
        tenant.id,
        "webhook.redelivered",
        target(logged.endpoint_id),
        format!("message={}", logged.message_id),
    )
    .await;
    Ok(logged)
}

async fn queue(state: &AppState, tenant: &Tenant, job: Job) -> AppResult<()> {
    Ok(state
        .queue
        .enqueue(&*state.store.jobs, tenant.id, &job)
        .await?)
}

/// Stores the changed endpoint, audited with `event`.
async fn save(
    state: &AppState,
    actor: &Actor,
    endpoint: &WebhookEndpoint,
    event: AuditEvent,
) -> AppResult<()> {
    let update = state
        .store
        .webhooks
        .update_endpoint(endpoint.tenant_id, endpoint);
    if !audited(state, actor, event, update).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

fn target(id: Uuid) -> String {
    format!("webhook:{id}")
}
