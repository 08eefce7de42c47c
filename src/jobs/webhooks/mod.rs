//! Delivers queued webhook messages (`store::outbox`), one attempt per run of a job: signed in
//! the Standard Webhooks format, through the SSRF guard, logged with the receiver's status,
//! the time it took and the start of its answer. Failed attempts are tried again by the job
//! queue for up to a day; an endpoint that keeps failing for the configured time is disabled.

use crate::admin::webhooks::seal_context;
use crate::config::WebhookSettings;
use crate::crypto::webhook::signature;
use crate::domain::webhook::{RESPONSE_START_CHARS, TEST_EVENT};
use crate::domain::{duration_words, AuditEvent, DeliveryAttempt, Job, Outcome, RequestMeta};
use crate::domain::{Timestamp, WebhookEndpoint};
use crate::state::outbound::{explain, guard};
use crate::state::AppState;
use crate::store::outbox::Message;
use crate::store::StoreError;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub use crate::store::outbox::JOB;
/// A message is retried for this long after it was queued (`jobs::queue` spaces the attempts).
pub const RETRY_HORIZON_SECS: i64 = 24 * 3600;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of an answer read at most, for the start the log keeps.
const RESPONSE_READ_BYTES: usize = 4 * RESPONSE_START_CHARS;

/// One attempt of a queued message; `Err` says why it failed, worth another attempt.
pub async fn deliver(state: &AppState, job: &Job) -> Result<(), String> {
    let message: Message =
        serde_json::from_str(&job.payload).map_err(|e| format!("unreadable message: {e}"))?;
    let storage = |e: StoreError| format!("storage: {e}");
    let webhooks = &state.store.webhooks;
    let Some(endpoint) = webhooks
        .endpoint(job.tenant_id, message.endpoint_id)
        .await
        .map_err(storage)?
    else {
        return Ok(()); // deleted: no one to tell
    };
    if !endpoint.enabled && message.event_type != TEST_EVENT {
        return Ok(()); // its log shows what was not sent, to send again once it works
    }
    let secret = state
        .secrets
        .open(&endpoint.secret, &seal_context(job.tenant_id, endpoint.id))
        .map_err(|e| format!("the signing secret cannot be opened: {e}"))?;
    let settings = &state.config.webhooks;
    let at = Timestamp::now();
    let started = Instant::now();
    let answer = send(settings, &endpoint, &message, &secret, at).await;
    let attempt = DeliveryAttempt {
        id: Uuid::now_v7(),
        tenant_id: job.tenant_id,
        endpoint_id: endpoint.id,
        message_id: message.message_id.clone(),
        event_type: message.event_type.clone(),
        payload: message.body.clone(),
        attempt: job.attempts,
        at,
        status: answer.as_ref().ok().map(|(status, _)| *status),
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        response: match &answer {
            Ok((_, start)) => start.clone(),
            Err(why) => why.clone(),
        },
        succeeded: answer
            .as_ref()
            .is_ok_and(|(status, _)| (200..300).contains(status)),
    };
    let reason = format!(
        "Deliveries failed for {} with no success in between.",
        duration_words(settings.disable_after_secs)
    );
    let disabled = webhooks
        .record_attempt(
            job.tenant_id,
            &attempt,
            at.plus_secs(-settings.disable_after_secs),
            &reason,
        )
        .await
        .map_err(storage)?;
    if disabled {
        tracing::warn!(endpoint = %endpoint.id, %reason, "a webhook endpoint was disabled");
        let event = AuditEvent::new(
            job.tenant_id,
            "webhook.disabled",
            Outcome::Failure,
            "tessera",
        )
        .target(format!("webhook:{}", endpoint.id))
        .reason(reason);
        state.audit(event, &RequestMeta::default()).await;
    }
    match answer {
        _ if attempt.succeeded => Ok(()),
        Ok((status, _)) => Err(format!("answered {status}")),
        Err(why) => Err(why),
    }
}

/// A message given up after a day of failures: the audit log says so.
pub async fn given_up(state: &AppState, job: &Job, reason: String) {
    let endpoint = serde_json::from_str::<Message>(&job.payload)
        .map(|m| m.endpoint_id.to_string())
        .unwrap_or_default();
    let event = AuditEvent::new(
        job.tenant_id,
        "webhook.given_up",
        Outcome::Failure,
        "tessera",
    )
    .target(format!("webhook:{endpoint}"))
    .reason(reason);
    state.audit(event, &RequestMeta::default()).await;
}

/// POSTs the message; the receiver's status and the start of its answer, or why there is none.
async fn send(
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
    message: &Message,
    secret: &[u8],
    at: Timestamp,
) -> Result<(i32, String), String> {
    let url = url::Url::parse(&endpoint.url).map_err(|e| format!("bad URL: {e}"))?;
    if !settings.allow_private_networks {
        if let Some(why) = guard::refused_literal(&url) {
            return Err(format!("refused: {why}"));
        }
    }
    let timestamp = at.unix();
    let mut response = client(settings)
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &message.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(secret, &message.message_id, timestamp, &message.body),
        )
        .body(message.body.clone())
        .send()
        .await
        .map_err(|e| explain(&e))?;
    let status = i32::from(response.status().as_u16());
    let mut start = Vec::new();
    while start.len() < RESPONSE_READ_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => start.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text: String = String::from_utf8_lossy(&start)
        .chars()
        .take(RESPONSE_START_CHARS)
        .collect();
    Ok((status, text))
}

/// The HTTP client of the settings: one per process (its connection pool is shared), never
/// through a proxy (which would resolve names past the guard).
fn client(settings: &WebhookSettings) -> reqwest::Client {
    static CLIENTS: LazyLock<Mutex<Vec<(WebhookSettings, reqwest::Client)>>> =
        LazyLock::new(Mutex::default);
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, client)) = clients.iter().find(|(s, _)| s == settings) {
        return client.clone();
    }
    let guarded = !settings.allow_private_networks;
    let max = settings.max_redirects;
    // `previous` holds the URLs before this redirect, the endpoint's own among them.
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if max == 0 {
            return attempt.stop(); // the 3xx answer is the attempt's outcome
        }
        match guard::refused_redirect(attempt.url(), attempt.previous().len(), max, guarded) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(redirects)
        .no_proxy()
        .user_agent(concat!("Tessera-Webhooks/", env!("CARGO_PKG_VERSION")));
    if guarded {
        builder = builder.dns_resolver(std::sync::Arc::new(guard::GuardedResolver));
    }
    let client = builder
        .build()
        .expect("an HTTP client with default TLS settings");
    clients.push((settings.clone(), client.clone()));
    client
}
