//! OpenID Connect Back-Channel Logout 1.0: when a person signs out, every client their sign-in
//! reached that registered a `backchannel_logout_uri` receives a signed logout token, retried
//! a few times when the client cannot be reached.

use super::jwt;
use crate::crypto::{random_token, sha256_b64url};
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Client, Outcome, Tenant, Timestamp, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoreError;
use serde_json::json;
use std::time::Duration;

const CLIENTS: &str = "session-clients";
/// §2.4: the token is for immediate use.
const TOKEN_LIFETIME_SECS: i64 = 120;
const ATTEMPTS: u32 = 4;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
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

/// Sends logout tokens for the ended sign-in `session` in the background.
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
        let Some(client) = state
            .store
            .clients
            .by_client_id(tenant.id, &client_id)
            .await?
        else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let token = logout_token(state, tenant, &client, session).await?;
        let (state, tenant) = (state.clone(), tenant.clone());
        tokio::spawn(async move {
            let outcome = deliver(&uri, &token).await;
            let (result, reason) = match outcome {
                Ok(attempts) => (
                    Outcome::Success,
                    format!("delivered after {attempts} attempt(s)"),
                ),
                Err(why) => (Outcome::Failure, why),
            };
            let event = AuditEvent::new(
                tenant.id,
                "logout.backchannel",
                result,
                format!("client:{}", client.client_id),
            )
            .reason(reason);
            state.audit(event, &RequestMeta::default()).await;
        });
    }
    Ok(())
}

/// §2.4: a JWT naming the user and the sign-in, with the logout event and no nonce.
async fn logout_token(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    session: &UserSession,
) -> AppResult<String> {
    let keys = state.keys.for_alg(tenant.id, client.id_token_alg).await?;
    let now = Timestamp::now();
    let claims = json!({
        "iss": state.config.issuer(tenant.slug.as_str()),
        "aud": client.client_id,
        "iat": now.unix(),
        "exp": now.plus_secs(TOKEN_LIFETIME_SECS).unix(),
        "jti": random_token(16),
        "sub": session.user_id.to_string(),
        "sid": sid(&session.id),
        "events": { LOGOUT_EVENT: {} },
    });
    jwt::sign(&keys, client.id_token_alg, "logout+jwt", &claims)
}

/// POSTs the token (§2.5), retrying with growing pauses; the number of attempts it took.
async fn deliver(uri: &str, token: &str) -> Result<u32, String> {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut pause = FIRST_RETRY;
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        match http.post(uri).form(&[("logout_token", token)]).send().await {
            Ok(response) if response.status().is_success() => return Ok(attempt),
            Ok(response) => last_error = format!("answered {}", response.status()),
            Err(e) => last_error = format!("unreachable: {e}"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 3;
        }
    }
    Err(format!(
        "not delivered after {ATTEMPTS} attempts; last {last_error}"
    ))
}
