//! `/api-keys`: list, make (the new key in the answer, this once) and revoke the
//! organisation's API keys (`api_keys:manage`). A key never makes a key with more than it has.

use super::problem::Refusals;
use super::{field_renamed, json_body, secret_answer, Caller, Problem};
use crate::admin::api_keys;
use crate::domain::{ApiKey, Timestamp};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An API key, without its secret. Times are RFC 3339, UTC.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyOut {
    id: String,
    name: String,
    /// The key's first characters, to tell keys apart.
    hint: String,
    permissions: Vec<String>,
    /// `active`, `expired` or `revoked`.
    status: String,
    /// `user:<id>`, `api_key:<id>` or `cli`.
    created_by: String,
    created_at: String,
    expires_at: String,
    last_used_at: Option<String>,
}

impl ApiKeyOut {
    fn of(key: &ApiKey, now: Timestamp) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name.clone(),
            hint: key.hint.clone(),
            permissions: key.permissions.iter().map(|p| p.to_string()).collect(),
            status: key.status(now).label().to_lowercase(),
            created_by: key.created_by.clone(),
            created_at: key.created_at.rfc3339(),
            expires_at: key.expires_at.rfc3339(),
            last_used_at: key.last_used_at.map(Timestamp::rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    data: Vec<ApiKeyOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    name: String,
    /// `resource:action` permissions, each held by the caller.
    permissions: Vec<String>,
    /// 7, 30, 90 or 365.
    lifetime_days: i64,
}

/// A key just made: `secret` is the key itself, in this answer only.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    key: ApiKeyOut,
    secret: String,
}

/// The organisation's keys, newest first (`api_keys:manage`).
#[utoipa::path(get, path = "/api-keys", operation_id = "list_api_keys", tag = "api-keys",
    responses((status = 200, description = "Every key, revoked and expired ones included", body = ApiKeyList), Refusals),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ApiKeyList>, Problem> {
    let keys = api_keys::list(&state, &caller.actor, &caller.tenant)
        .await
        .map_err(caller.refused())?;
    let now = Timestamp::now();
    let data = keys.iter().map(|k| ApiKeyOut::of(k, now)).collect();
    Ok(Json(ApiKeyList { data }))
}

/// Makes a key (`api_keys:manage`) with at most the caller's permissions.
#[utoipa::path(post, path = "/api-keys", operation_id = "create_api_key", tag = "api-keys", request_body = NewKeyBody,
    responses((status = 201, description = "Made; the secret is in this answer only", body = CreatedKey), Refusals),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: NewKeyBody = json_body(&body)?;
    let made = api_keys::create(
        &state,
        &caller.actor,
        &caller.tenant,
        &body.name,
        &body.permissions,
        body.lifetime_days,
    )
    .await
    .map_err(field_renamed("expires", "lifetime_days"))
    .map_err(caller.refused())?;
    let location = format!("/t/{}/api/v1/api-keys", caller.tenant.slug);
    let created = CreatedKey {
        key: ApiKeyOut::of(&made.key, Timestamp::now()),
        secret: made.secret,
    };
    Ok(secret_answer(StatusCode::CREATED, Some(location), created))
}

/// Revokes a key at once (`api_keys:manage`); a key may revoke itself.
#[utoipa::path(delete, path = "/api-keys/{id}", operation_id = "revoke_api_key", tag = "api-keys", params(("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), Refusals),
    security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let id = id
        .parse()
        .map_err(|_| Problem::not_found("There is no such key here."))?;
    api_keys::revoke(&state, &caller.actor, &caller.tenant, id)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}
