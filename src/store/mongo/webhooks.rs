//! Webhook endpoints of a tenant, one document each, and their delivery log, one document per
//! attempt. Logging an attempt is a few single-document steps, each atomic, so processes
//! logging at once need no transaction to agree on when failures began and on which of them
//! disabled the endpoint.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{DeliveryAttempt, TenantId, Timestamp, WebhookEndpoint};
use crate::store::decode::parse;
use crate::store::{StoreResult, WebhookRepo};
use async_trait::async_trait;
use mongodb::bson::{doc, spec::BinarySubtype, Binary, DateTime};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ENDPOINTS: &str = "webhook_endpoints";
const DELIVERIES: &str = "webhook_deliveries";

#[derive(Serialize, Deserialize)]
struct EndpointDoc {
    tenant_id: String,
    id: String,
    url: String,
    description: String,
    events: Vec<String>,
    secret: Binary,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime>,
    created_at: DateTime,
    updated_at: DateTime,
}

impl EndpointDoc {
    fn new(tenant: TenantId, e: &WebhookEndpoint) -> Self {
        Self {
            tenant_id: tenant.to_string(),
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.clone(),
            secret: secret(&e.secret),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since.map(date),
            created_at: date(e.created_at),
            updated_at: date(e.updated_at),
        }
    }

    fn into_endpoint(self) -> StoreResult<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            url: self.url,
            description: self.description,
            events: self.events,
            secret: self.secret.bytes,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since.map(timestamp),
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
        })
    }
}

fn secret(bytes: &[u8]) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    }
}

#[derive(Serialize, Deserialize)]
struct AttemptDoc {
    tenant_id: String,
    id: String,
    endpoint_id: String,
    message_id: String,
    event_type: String,
    payload: String,
    attempt: i32,
    at: DateTime,
    status: Option<i32>,
    latency_ms: i64,
    response: String,
    succeeded: bool,
}

impl AttemptDoc {
    fn new(tenant: TenantId, a: &DeliveryAttempt) -> Self {
        Self {
            tenant_id: tenant.to_string(),
            id: a.id.to_string(),
            endpoint_id: a.endpoint_id.to_string(),
            message_id: a.message_id.clone(),
            event_type: a.event_type.clone(),
            payload: a.payload.clone(),
            attempt: a.attempt,
            at: date(a.at),
            status: a.status,
            latency_ms: a.latency_ms,
            response: a.response.clone(),
            succeeded: a.succeeded,
        }
    }

    fn into_attempt(self) -> StoreResult<DeliveryAttempt> {
        Ok(DeliveryAttempt {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            endpoint_id: parse(&self.endpoint_id)?,
            message_id: self.message_id,
            event_type: self.event_type,
            payload: self.payload,
            attempt: self.attempt,
            at: timestamp(self.at),
            status: self.status,
            latency_ms: self.latency_ms,
            response: self.response,
            succeeded: self.succeeded,
        })
    }
}

#[async_trait]
impl WebhookRepo for MongoStore {
    async fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<()> {
        debug_assert_eq!(tenant, endpoint.tenant_id);
        self.collection::<EndpointDoc>(ENDPOINTS)
            .insert_one(EndpointDoc::new(tenant, endpoint))
            .await
            .map_err(conflict("webhook endpoint"))?;
        Ok(())
    }

    async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let cursor = self
            .collection::<EndpointDoc>(ENDPOINTS)
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "created_at": -1, "id": -1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(EndpointDoc::into_endpoint)
            .collect()
    }

    async fn endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        self.collection::<EndpointDoc>(ENDPOINTS)
            .find_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?
            .map(EndpointDoc::into_endpoint)
            .transpose()
    }

    async fn update_endpoint(
        &self,
        tenant: TenantId,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<EndpointDoc>(ENDPOINTS)
            .update_one(
                scoped(tenant, doc! { "id": endpoint.id.to_string() }),
                doc! { "$set": {
                    "url": &endpoint.url,
                    "description": &endpoint.description,
                    "events": endpoint.events.clone(),
                    "secret": secret(&endpoint.secret),
                    "enabled": endpoint.enabled,
                    "disabled_reason": endpoint.disabled_reason.clone(),
                    "failing_since": endpoint.failing_since.map(date),
                    "updated_at": date(endpoint.updated_at),
                } },
            )
            .await?;
        Ok(done.matched_count == 1)
    }

    async fn delete_endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let done = self
            .collection::<EndpointDoc>(ENDPOINTS)
            .delete_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?;
        // Then its log, also when the endpoint was gone already: a retry finishes the job.
        self.collection::<AttemptDoc>(DELIVERIES)
            .delete_many(scoped(tenant, doc! { "endpoint_id": id.to_string() }))
            .await?;
        Ok(done.deleted_count == 1)
    }

    /// The attempt first, then conditional updates of the endpoint, each atomic on its own:
    /// the first failure sets `failing_since` only while it is unset, and the endpoint is
    /// disabled only while it is enabled, so exactly one process disables it.
    async fn record_attempt(
        &self,
        tenant: TenantId,
        attempt: &DeliveryAttempt,
        disable_before: Timestamp,
        reason: &str,
    ) -> StoreResult<bool> {
        self.collection::<AttemptDoc>(DELIVERIES)
            .insert_one(AttemptDoc::new(tenant, attempt))
            .await
            .map_err(conflict("delivery attempt"))?;
        let endpoints = self.collection::<EndpointDoc>(ENDPOINTS);
        let endpoint = attempt.endpoint_id.to_string();
        if attempt.succeeded {
            endpoints
                .update_one(
                    scoped(tenant, doc! { "id": &endpoint }),
                    doc! { "$set": { "failing_since": null } },
                )
                .await?;
            return Ok(false);
        }
        endpoints
            .update_one(
                scoped(tenant, doc! { "id": &endpoint, "failing_since": null }),
                doc! { "$set": { "failing_since": date(attempt.at) } },
            )
            .await?;
        let done = endpoints
            .update_one(
                scoped(
                    tenant,
                    doc! {
                        "id": &endpoint,
                        "enabled": true,
                        "failing_since": { "$lte": date(disable_before) },
                    },
                ),
                doc! { "$set": { "enabled": false, "disabled_reason": reason } },
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    async fn attempts(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        // MongoDB reads a limit of 0 as no limit at all.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .collection::<AttemptDoc>(DELIVERIES)
            .find(scoped(tenant, doc! { "endpoint_id": endpoint.to_string() }))
            .sort(doc! { "at": -1, "id": -1 })
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(AttemptDoc::into_attempt)
            .collect()
    }

    async fn attempt(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<DeliveryAttempt>> {
        self.collection::<AttemptDoc>(DELIVERIES)
            .find_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?
            .map(AttemptDoc::into_attempt)
            .transpose()
    }

    async fn purge_attempts_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge_where(DELIVERIES, "at", before, limit).await
    }
}
