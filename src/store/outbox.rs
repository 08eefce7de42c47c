//! The webhook outbox: the messages an audit event makes for the endpoints that subscribe to
//! it, queued as jobs (`JobRepo`) in the same transaction, where the backend has one, as the
//! change the event records (`audited.rs`) or, for events that record no change, as the event
//! itself (`group_commit.rs`).

use super::{StoreResult, WebhookRepo};
use crate::domain::webhook::{is_event_type, TEST_EVENT};
use crate::domain::{AuditEvent, Job, TenantId, Timestamp, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The job queue's name for a webhook delivery.
pub const JOB: &str = "webhook.delivery";

/// One message for one endpoint: what a delivery job carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub endpoint_id: Uuid,
    /// The Standard Webhooks `webhook-id`, kept by every attempt and redelivery.
    pub message_id: String,
    pub event_type: String,
    /// The JSON body: `type`, `timestamp` and `data`, as Standard Webhooks suggests.
    pub body: String,
}

impl Message {
    /// The message of `event` for `endpoint`. Its id is derived from both, so that a batch
    /// written again makes the same job, not a second one.
    pub fn of_event(endpoint: &WebhookEndpoint, event: &AuditEvent) -> Self {
        let body = json!({
            "type": event.action,
            "timestamp": event.at.rfc3339(),
            "data": {
                "id": event.id,
                "tenant_id": event.tenant_id,
                "outcome": event.outcome.as_str(),
                "actor": event.actor,
                "target": event.target,
                "reason": event.reason,
                "ip": event.ip,
                "request_id": event.request_id,
            },
        });
        Self {
            endpoint_id: endpoint.id,
            message_id: message_id(derived_id(event.id, endpoint.id)),
            event_type: event.action.clone(),
            body: body.to_string(),
        }
    }

    /// What "send a test event" sends to `endpoint`.
    pub fn test(endpoint: &WebhookEndpoint, sent_by: &str, now: Timestamp) -> Self {
        let body = json!({
            "type": TEST_EVENT,
            "timestamp": now.rfc3339(),
            "data": { "tenant_id": endpoint.tenant_id, "sent_by": sent_by },
        });
        Self {
            endpoint_id: endpoint.id,
            message_id: message_id(Uuid::now_v7()),
            event_type: TEST_EVENT.into(),
            body: body.to_string(),
        }
    }

    /// The job of its first delivery, due now, with the message's id: the same message queued
    /// twice (a batch written again) is one job.
    pub fn delivery(&self, tenant: TenantId) -> Job {
        let mut job = self.redelivery(tenant);
        if let Some(id) = self.message_id.strip_prefix("msg_") {
            job.id = Uuid::parse_str(id).unwrap_or(job.id);
        }
        job
    }

    /// A job that sends it again, due now, with an id of its own.
    pub fn redelivery(&self, tenant: TenantId) -> Job {
        Job::new(
            tenant,
            JOB,
            serde_json::to_string(self).expect("plain data"),
        )
    }
}

fn message_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

fn derived_id(event: Uuid, endpoint: Uuid) -> Uuid {
    let digest = Sha256::new()
        .chain_update(event.as_bytes())
        .chain_update(endpoint.as_bytes())
        .finalize();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The delivery jobs of `events`: one per event and enabled endpoint subscribed to its type.
/// The endpoints of each tenant concerned are read once; events no endpoint can subscribe to
/// (token records) read nothing.
pub async fn messages_of(
    webhooks: &dyn WebhookRepo,
    events: &[AuditEvent],
) -> StoreResult<Vec<Job>> {
    let mut jobs = Vec::new();
    let mut read: Vec<(TenantId, Vec<WebhookEndpoint>)> = Vec::new();
    for event in events.iter().filter(|e| is_event_type(&e.action)) {
        let endpoints = match read.iter().position(|(t, _)| *t == event.tenant_id) {
            Some(at) => &read[at].1,
            None => {
                let endpoints = webhooks.endpoints(event.tenant_id).await?;
                read.push((event.tenant_id, endpoints));
                &read[read.len() - 1].1
            }
        };
        for endpoint in endpoints.iter().filter(|e| e.wants(&event.action)) {
            jobs.push(Message::of_event(endpoint, event).delivery(event.tenant_id));
        }
    }
    Ok(jobs)
}
