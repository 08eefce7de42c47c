//! The device authorization grant (RFC 8628): a device without a browser asks for a user code,
//! the person enters it on the `/device` page of any browser, signs in and decides, and the
//! device collects its tokens by polling the token endpoint.

use super::client_auth::{client_request, ClientRequest};
use super::error::OAuthError;
use crate::crypto::{random_token, sha256_hex};
use crate::domain::RequestMeta;
use crate::domain::{Client, DeviceGrant, DeviceStatus, GrantType, Tenant, Timestamp, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoreError;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// RFC 8628 §6.1: consonants only, no look-alikes, no words.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
const LIFETIME_SECS: i64 = 600;
const INTERVAL_SECS: i64 = 5;
/// Grants are kept past expiry so a late poll is told `expired_token`, not `invalid_grant`.
const KEPT_AFTER_EXPIRY_SECS: i64 = 600;
const GRANTS: &str = "device-grant";
const USER_CODES: &str = "device-user-code";

/// `POST {issuer}/device_authorization` (RFC 8628 §3.1, §3.2).
pub async fn device_authorization(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: String,
) -> Response {
    match start(&state, &slug, &meta, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn start(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<Response, OAuthError> {
    let ClientRequest {
        tenant,
        client,
        params,
    } = client_request(state, slug, "device_authorization", meta, headers, body).await?;
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may not use the device authorization grant",
        ));
    }
    let scopes = match params.get("scope") {
        None => client.scopes.clone(),
        Some(requested) => {
            let scopes: Vec<String> = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(bad) = scopes.iter().find(|s| !client.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {bad:?} is not available to this client"
                )));
            }
            scopes
        }
    };
    let device_code = random_token(32);
    let now = Timestamp::now();
    let mut grant = DeviceGrant {
        client_id: client.client_id.clone(),
        scopes,
        user_code: String::new(),
        status: DeviceStatus::Pending,
        interval_secs: INTERVAL_SECS,
        last_polled_at: None,
        expires_at: now.plus_secs(LIFETIME_SECS),
    };
    let internal = |e: StoreError| OAuthError::internal(meta, e);
    let artifacts = &state.store.artifacts;
    let kept_until = grant.expires_at.plus_secs(KEPT_AFTER_EXPIRY_SECS);
    // A user code is short, so it may collide with a live one: draw again.
    let mut attempts = 0;
    loop {
        grant.user_code = new_user_code();
        match artifacts
            .put_ephemeral(
                tenant.id,
                USER_CODES,
                &grant.user_code,
                &sha256_hex(&device_code),
                grant.expires_at,
            )
            .await
        {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(internal(e)),
        }
    }
    artifacts
        .put_ephemeral(
            tenant.id,
            GRANTS,
            &sha256_hex(&device_code),
            &to_json(&grant),
            kept_until,
        )
        .await
        .map_err(internal)?;
    let verification_uri = format!("{}/device", state.config.issuer(tenant.slug.as_str()));
    let shown = display(&grant.user_code);
    let mut response = Json(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={shown}"),
        "expires_in": LIFETIME_SECS,
        "interval": INTERVAL_SECS,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn new_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// `ABCDEFGH` as people read it: `ABCD-EFGH`.
pub fn display(user_code: &str) -> String {
    format!("{}-{}", &user_code[..4], &user_code[4..])
}

/// What a person typed, as stored: case, spaces and dashes do not matter (§6.1).
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

fn to_json(grant: &DeviceGrant) -> String {
    serde_json::to_string(grant).expect("plain data serialises")
}

/// A device grant and what its swap needs.
struct Stored {
    key: String,
    version: i64,
    grant: DeviceGrant,
}

async fn load(state: &AppState, tenant: &Tenant, key: &str) -> AppResult<Option<Stored>> {
    let Some(found) = state
        .store
        .artifacts
        .get_ephemeral(tenant.id, GRANTS, key)
        .await?
    else {
        return Ok(None);
    };
    let grant = serde_json::from_str(&found.value).map_err(AppError::internal)?;
    Ok(Some(Stored {
        key: key.to_owned(),
        version: found.version,
        grant,
    }))
}

async fn save(state: &AppState, tenant: &Tenant, stored: &Stored) -> AppResult<bool> {
    Ok(state
        .store
        .artifacts
        .swap_ephemeral(
            tenant.id,
            GRANTS,
            &stored.key,
            stored.version,
            &to_json(&stored.grant),
        )
        .await?)
}

/// The pending grant a person's user code names, if it is valid now.
pub async fn pending(
    state: &AppState,
    tenant: &Tenant,
    typed: &str,
) -> AppResult<Option<DeviceGrant>> {
    Ok(find(state, tenant, typed).await?.map(|s| s.grant))
}

async fn find(state: &AppState, tenant: &Tenant, typed: &str) -> AppResult<Option<Stored>> {
    let Some(code) = normalize(typed) else {
        return Ok(None);
    };
    let Some(key) = state
        .store
        .artifacts
        .get_ephemeral(tenant.id, USER_CODES, &code)
        .await?
    else {
        return Ok(None);
    };
    Ok(load(state, tenant, &key.value).await?.filter(|s| {
        s.grant.status == DeviceStatus::Pending && Timestamp::now().is_before(s.grant.expires_at)
    }))
}

/// Records the person's decision on the grant their user code names; false when the code is
/// no longer pending (expired, decided already, or unknown).
pub async fn decide(
    state: &AppState,
    tenant: &Tenant,
    typed: &str,
    signed_in: &UserSession,
    allow: bool,
) -> AppResult<bool> {
    let Some(mut stored) = find(state, tenant, typed).await? else {
        return Ok(false);
    };
    if allow {
        let client = state
            .store
            .clients
            .by_client_id(tenant.id, &stored.grant.client_id)
            .await?;
        if let Some(client) = client {
            super::backchannel::record_client(state, tenant, signed_in, &client).await?;
        }
    }
    stored.grant.status = if allow {
        DeviceStatus::Approved {
            user_id: signed_in.user_id,
            session_id: signed_in.id.clone(),
            auth_time: signed_in.auth_time,
            amr: signed_in.amr.clone(),
        }
    } else {
        DeviceStatus::Denied
    };
    save(state, tenant, &stored).await
}

/// What a device's poll found: the approval to issue tokens for.
pub struct Approval {
    pub grant: DeviceGrant,
    pub user_id: crate::domain::UserId,
    pub session_id: String,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
}

/// One poll of the token endpoint (RFC 8628 §3.4, §3.5): the approval, spent by this call, or
/// the error that tells the device what to do.
pub async fn poll(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    device_code: &str,
    now: Timestamp,
    meta: &RequestMeta,
) -> Result<Approval, OAuthError> {
    let internal = |e: AppError| OAuthError::internal(meta, e);
    let error = |code: &'static str, description: &str| {
        OAuthError::new(StatusCode::BAD_REQUEST, code, description)
    };
    let mut stored = load(state, tenant, &sha256_hex(device_code))
        .await
        .map_err(internal)?
        .filter(|s| s.grant.client_id == client.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("the device code is invalid"))?;
    if !now.is_before(stored.grant.expires_at) {
        return Err(error("expired_token", "the device code has expired"));
    }
    let too_soon = stored
        .grant
        .last_polled_at
        .is_some_and(|last| now.is_before(last.plus_secs(stored.grant.interval_secs)));
    stored.grant.last_polled_at = Some(now);
    let status = stored.grant.status.clone();
    if too_soon {
        // §3.5: the device must now wait longer between polls.
        stored.grant.interval_secs += INTERVAL_SECS;
    } else if let DeviceStatus::Approved { .. } = status {
        stored.grant.status = DeviceStatus::Redeemed;
    }
    // One swap decides concurrent polls: only the caller whose version is current proceeds.
    if !save(state, tenant, &stored).await.map_err(internal)? || too_soon {
        return Err(error("slow_down", "poll less often"));
    }
    match status {
        DeviceStatus::Pending => Err(error(
            "authorization_pending",
            "the person has not decided yet",
        )),
        DeviceStatus::Denied => Err(error("access_denied", "the person denied the request")),
        DeviceStatus::Redeemed => Err(OAuthError::invalid_grant(
            "the device code has already been used",
        )),
        DeviceStatus::Approved {
            user_id,
            session_id,
            auth_time,
            amr,
        } => Ok(Approval {
            grant: stored.grant,
            user_id,
            session_id,
            auth_time,
            amr,
        }),
    }
}
