//! `/webhooks`: the organisation's webhook endpoints (`webhooks:manage`): list, add (the
//! signing secret in the answer, this once), read, change, enable and disable, rotate the
//! secret, remove; each endpoint's delivery log, a test event, and redelivery of a logged
//! message.

use super::problem::Refusals;
use super::{json_body, secret_answer, Caller, Problem};
use crate::admin::webhooks::{self, LOG_LIMIT};
use crate::domain::webhook::EndpointChanges;
use crate::domain::{DeliveryAttempt, WebhookEndpoint};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An endpoint, without its secret. Times are RFC 3339, UTC.
#[derive(Serialize, ToSchema)]
pub struct WebhookOut {
    id: String,
    url: String,
    description: String,
    /// The audit actions it receives, e.g. `user.created`.
    events: Vec<String>,
    enabled: bool,
    /// Why Tessera disabled it (its deliveries kept failing).
    disabled_reason: Option<String>,
    /// When its current run of failures began.
    failing_since: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since.map(|t| t.rfc3339()),
            created_at: e.created_at.rfc3339(),
            updated_at: e.updated_at.rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    data: Vec<WebhookOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// An https URL.
    url: String,
    #[serde(default)]
    description: String,
    /// Audit actions, e.g. `user.created`, `login.succeeded`.
    events: Vec<String>,
}

/// An endpoint with its signing secret (`whsec_…`), in this answer only.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    webhook: WebhookOut,
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChanges {
    url: Option<String>,
    description: Option<String>,
    events: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// One attempt to deliver a message.
#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    id: String,
    /// The `webhook-id` header: the same for every attempt of a message.
    message_id: String,
    event_type: String,
    attempt: i32,
    at: String,
    /// The receiver's HTTP status; none when it could not be reached.
    status: Option<i32>,
    latency_ms: i64,
    /// The start of the receiver's answer, or why there was none.
    response: String,
    succeeded: bool,
    /// The body that was sent.
    payload: String,
}

impl From<&DeliveryAttempt> for DeliveryOut {
    fn from(a: &DeliveryAttempt) -> Self {
        Self {
            id: a.id.to_string(),
            message_id: a.message_id.clone(),
            event_type: a.event_type.clone(),
            attempt: a.attempt,
            at: a.at.rfc3339(),
            status: a.status,
            latency_ms: a.latency_ms,
            response: a.response.clone(),
            succeeded: a.succeeded,
            payload: a.payload.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryOut>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// 1 to 100; 50 when absent.
    limit: Option<u32>,
}

/// A message queued for delivery.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    message_id: String,
}

fn endpoint_id(raw: &str) -> Result<Uuid, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found("There is no such webhook here."))
}

fn delivery_id(raw: &str) -> Result<Uuid, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found("There is no such delivery here."))
}

/// The organisation's endpoints, newest first.
#[utoipa::path(get, path = "/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "Every endpoint, disabled ones included", body = WebhookList), Refusals),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WebhookList>, Problem> {
    let endpoints = webhooks::list(&state, &caller.actor, &caller.tenant)
        .await
        .map_err(caller.refused())?;
    let data = endpoints.iter().map(WebhookOut::from).collect();
    Ok(Json(WebhookList { data }))
}

/// Adds an endpoint; its signing secret is in this answer only.
#[utoipa::path(post, path = "/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = NewWebhookBody,
    responses((status = 201, description = "Added", body = WebhookWithSecret), Refusals),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: NewWebhookBody = json_body(&body)?;
    let made = webhooks::create(
        &state,
        &caller.actor,
        &caller.tenant,
        &body.url,
        &body.description,
        &body.events,
    )
    .await
    .map_err(caller.refused())?;
    let location = format!(
        "/t/{}/api/v1/webhooks/{}",
        caller.tenant.slug, made.endpoint.id
    );
    let answer = WebhookWithSecret {
        webhook: WebhookOut::from(&made.endpoint),
        secret: made.secret,
    };
    Ok(secret_answer(StatusCode::CREATED, Some(location), answer))
}

#[utoipa::path(get, path = "/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint", body = WebhookOut), Refusals),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<WebhookOut>, Problem> {
    let endpoint = webhooks::get(&state, &caller.actor, &caller.tenant, endpoint_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(Json(WebhookOut::from(&endpoint)))
}

/// Changes the URL, description or events, or turns deliveries on or off. Enabling an
/// endpoint Tessera disabled starts its failure count afresh.
#[utoipa::path(patch, path = "/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id")), request_body = WebhookChanges,
    responses((status = 200, description = "Changed", body = WebhookOut), Refusals),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<WebhookOut>, Problem> {
    let body: WebhookChanges = json_body(&body)?;
    let (actor, tenant, id) = (&caller.actor, &caller.tenant, endpoint_id(&id)?);
    let changes = EndpointChanges {
        url: body.url,
        description: body.description,
        events: body.events,
    };
    let mut endpoint = webhooks::get(&state, actor, tenant, id)
        .await
        .map_err(caller.refused())?;
    if changes.url.is_some() || changes.description.is_some() || changes.events.is_some() {
        endpoint = webhooks::update(&state, actor, tenant, id, &changes)
            .await
            .map_err(caller.refused())?;
    }
    if let Some(enabled) = body.enabled.filter(|e| *e != endpoint.enabled) {
        endpoint = webhooks::set_enabled(&state, actor, tenant, id, enabled)
            .await
            .map_err(caller.refused())?;
    }
    Ok(Json(WebhookOut::from(&endpoint)))
}

#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Removed, with its delivery log"), Refusals),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    webhooks::delete(&state, &caller.actor, &caller.tenant, endpoint_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret at once; the new one is in this answer only.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, description = "Rotated", body = WebhookWithSecret), Refusals),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let made = webhooks::rotate_secret(&state, &caller.actor, &caller.tenant, endpoint_id(&id)?)
        .await
        .map_err(caller.refused())?;
    let answer = WebhookWithSecret {
        webhook: WebhookOut::from(&made.endpoint),
        secret: made.secret,
    };
    Ok(secret_answer(StatusCode::OK, None, answer))
}

/// The endpoint's delivery log, newest first (kept for 30 days).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id"), DeliveryQuery),
    responses((status = 200, description = "Attempts, newest first", body = DeliveryList), Refusals),
    security(("api_key" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeliveryList>, Problem> {
    let Query(query) = query.map_err(|e| Problem::malformed(e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=LOG_LIMIT).contains(&limit) {
        return Err(Problem::malformed("limit must be from 1 to 100."));
    }
    let attempts = webhooks::deliveries(
        &state,
        &caller.actor,
        &caller.tenant,
        endpoint_id(&id)?,
        limit,
    )
    .await
    .map_err(caller.refused())?;
    let data = attempts.iter().map(DeliveryOut::from).collect();
    Ok(Json(DeliveryList { data }))
}

/// Queues a `webhook.test` message for the endpoint, enabled or not.
#[utoipa::path(post, path = "/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 202, description = "Queued", body = Queued), Refusals),
    security(("api_key" = [])))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Queued>), Problem> {
    let message_id = webhooks::send_test(&state, &caller.actor, &caller.tenant, endpoint_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok((StatusCode::ACCEPTED, Json(Queued { message_id })))
}

/// Sends the message of a logged attempt again, with the same `webhook-id`.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/redeliver", operation_id = "redeliver_webhook_message", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id"), ("delivery" = String, Path, description = "The attempt's id")),
    responses((status = 202, description = "Queued", body = Queued), Refusals),
    security(("api_key" = [])))]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id, delivery)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<Queued>), Problem> {
    let (id, delivery) = (endpoint_id(&id)?, delivery_id(&delivery)?);
    let logged = webhooks::redeliver(&state, &caller.actor, &caller.tenant, id, delivery)
        .await
        .map_err(caller.refused())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            message_id: logged.message_id,
        }),
    ))
}
