//! OpenID Connect Back-Channel Logout 1.0: when a person signs out, every client their sign-in
//! reached that registered a `backchannel_logout_uri` receives a signed logout token. Deliveries
//! are queued in the store (`jobs::queue`): retried for a while when the client cannot be
//! reached, and sent by another process should the one that queued them die.

use super::jwt;
use crate::crypto::{random_token, sha256_b64url};
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Client, Job, Outcome, Tenant, Timestamp, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{sync::LazyLock, time::Duration};

const CLIENTS: &str = "session-clients";
/// The job queue's name for a delivery.
pub const JOB: &str = "logout.backchannel";
/// Pauses of 1, 3, 9, … seconds between them (`jobs::queue`): about 18 minutes in all.
pub const ATTEMPTS: i32 = 8;
/// §2.4: the token is for immediate use.
const TOKEN_LIFETIME_SECS: i64 = 120;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One client for every delivery (its connection pool is shared); redirects are not followed.
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client with default TLS settings")
});
/// OIDC Back-Channel Logout §2.4.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `sid` claim of a sign-in (OIDC Front/Back-Channel Logout §1): derived from the session
/// id so it can be compared, but never reveals it.
pub fn sid(session_id: &str) -> String {
    sha256_b64url(format!("sid:{session_id}").as_bytes())
}

/// Remembers that the sign-in `session` issued tokens to `client`, if the client wants to hear
/// about the sign-out.
pub async fn record_client(
    state: &AppState,
    tenant: &Tenant,
    session: &UserSession,
    client: &Client,
) -> AppResult<()> {
    if client.backchannel_logout_uri.is_none() {
        return Ok(());
    }
    let artifacts = &state.store.artifacts;
    // A compare-and-set loop: two sign-ins to different clients at once must both be kept.
    for _ in 0..5 {
        match artifacts
            .get_ephemeral(tenant.id, CLIENTS, &session.id)
            .await?
        {
            None => {
                let value = json!([client.client_id]).to_string();
                match artifacts
                    .put_ephemeral(tenant.id, CLIENTS, &session.id, &value, session.expires_at)
                    .await
                {
                    Ok(()) => return Ok(()),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Some(found) => {
                let mut clients: Vec<String> =
                    serde_json::from_str(&found.value).map_err(AppError::internal)?;
                if clients.contains(&client.client_id) {
                    return Ok(());
                }
                clients.push(client.client_id.clone());
                let value = json!(clients).to_string();
                if artifacts
                    .swap_ephemeral(tenant.id, CLIENTS, &session.id, found.version, &value)
                    .await?
                {
                    return Ok(());
                }
            }
        }
    }
    Err(AppError::internal(
        "could not record the client of a sign-in",
    ))
}

/// Queues a logout token delivery for each client the ended sign-in `session` reached; the
/// job queue (`jobs::queue`) sends them, retrying for a while, from whichever process is up.
pub async fn notify(state: &AppState, tenant: &Tenant, session: &UserSession) -> AppResult<()> {
    let Some(found) = state
        .store
        .artifacts
        .take_ephemeral(tenant.id, CLIENTS, &session.id)
        .await?
    else {
        return Ok(());
    };
    let client_ids: Vec<String> = serde_json::from_str(&found.value).map_err(AppError::internal)?;
    for client_id in client_ids {
        let delivery = Delivery {
            client_id,
            sub: session.user_id.to_string(),
            sid: sid(&session.id),
        };
        let job = Job::new(tenant.id, JOB, json!(delivery).to_string());
        state
            .queue
            .enqueue(&*state.store.jobs, tenant.id, &job)
            .await?;
    }
    Ok(())
}

/// What a queued delivery needs to build its token when it runs (tokens are short-lived, so
/// each attempt signs a new one).
#[derive(Serialize, Deserialize)]
struct Delivery {
    client_id: String,
    sub: String,
    sid: String,
}

/// One attempt of a queued delivery (§2.5); `Err` says why it failed.
pub async fn deliver(state: &AppState, job: &Job) -> Result<(), String> {
    match attempt(state, job).await? {
        None => Ok(()),
        Some(client_id) => {
            let reason = format!("delivered after {} attempt(s)", job.attempts);
            let event = AuditEvent::new(
                job.tenant_id,
                "logout.backchannel",
                Outcome::Success,
                format!("client:{client_id}"),
            )
            .reason(reason);
            state.audit(event, &RequestMeta::default()).await;
            Ok(())
        }
    }
}

/// The client it was delivered to; `None` when there is no longer anyone to tell (the tenant,
/// the client or its logout URI is gone).
async fn attempt(state: &AppState, job: &Job) -> Result<Option<String>, String> {
    let delivery: Delivery = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
    let storage = |e: StoreError| format!("storage: {e}");
    let Some(tenant) = state
        .store
        .tenants
        .by_id(job.tenant_id)
        .await
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let Some(client) = state
        .store
        .clients
        .by_client_id(tenant.id, &delivery.client_id)
        .await
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let Some(uri) = client.backchannel_logout_uri.as_deref() else {
        return Ok(None);
    };
    let token = logout_token(state, &tenant, &client, &delivery)
        .await
        .map_err(|e| e.to_string())?;
    let form = [("logout_token", token.as_str())];
    // An application that registered itself chose its URI unchecked by any admin: it is told
    // only through the SSRF guard.
    let status = if client.registration_token_hash.is_some() {
        state.fetcher.post_form(uri, &form).await?
    } else {
        let response = HTTP.post(uri).form(&form).send().await;
        response.map_err(|e| format!("unreachable: {e}"))?.status()
    };
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    Ok(Some(client.client_id))
}

/// The last attempt failed: the audit log says so.
pub async fn given_up(state: &AppState, job: &Job, reason: String) {
    let client = serde_json::from_str::<Delivery>(&job.payload)
        .map(|d| d.client_id)
        .unwrap_or_default();
    let event = AuditEvent::new(
        job.tenant_id,
        "logout.backchannel",
        Outcome::Failure,
        format!("client:{client}"),
    )
    .reason(reason);
    state.audit(event, &RequestMeta::default()).await;
}

/// §2.4: a JWT naming the user and the sign-in, with the logout event and no nonce.
async fn logout_token(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    delivery: &Delivery,
) -> AppResult<String> {
    let keys = state.keys.for_alg(tenant.id, client.id_token_alg).await?;
    let now = Timestamp::now();
    let claims = json!({
        "iss": state.config.issuer(tenant.slug.as_str()),
        "aud": client.client_id,
        "iat": now.unix(),
        "exp": now.plus_secs(TOKEN_LIFETIME_SECS).unix(),
        "jti": random_token(16),
        "sub": delivery.sub,
        "sid": delivery.sid,
        "events": { LOGOUT_EVENT: {} },
    });
    jwt::sign(&keys, client.id_token_alg, "logout+jwt", &claims)
}
