//! `/users`: list (a cursor at a time, with search), read, create, update, block, unblock,
//! delete (restorable, as in the console) and reset second factors.

use super::problem::Refusals;
use super::{json_body, user_id, Caller, Problem};
use crate::admin::users::{self, NewUser};
use crate::domain::{User, UserId};
use crate::store::UserQuery;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;

/// A person of the organisation. Times are RFC 3339, UTC.
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    id: String,
    email: String,
    email_verified: bool,
    name: Option<String>,
    blocked: bool,
    /// Deleted in a way the console can undo.
    deleted: bool,
    created_at: String,
    updated_at: String,
    last_sign_in_at: Option<String>,
}

impl From<&User> for UserOut {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            blocked: user.blocked,
            deleted: user.deleted_at.is_some(),
            created_at: user.created_at.rfc3339(),
            updated_at: user.updated_at.rfc3339(),
            last_sign_in_at: user.last_login_at.map(crate::domain::Timestamp::rfc3339),
        }
    }
}

/// One page of users, newest first.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    data: Vec<UserOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FactorsRemoved {
    removed: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Users per page, 1 to 100 (50 when absent).
    #[serde(default)]
    limit: Option<u32>,
    /// A part of the email address or name.
    #[serde(default)]
    q: Option<String>,
    /// Only blocked (true) or only not blocked (false) users.
    #[serde(default)]
    blocked: Option<bool>,
}

/// Lists the organisation's users a page at a time (`users:read`).
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", params(ListParams),
    responses((status = 200, description = "A page of users", body = UserPage), Refusals),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserPage>, Problem> {
    let Ok(Query(params)) = params else {
        return Err(Problem::malformed(
            "cursor is a user id, limit 1 to 100, blocked true or false.",
        ));
    };
    let before = match params.cursor.as_deref().map(str::parse::<UserId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(Problem::malformed("The cursor is not one this API gave.")),
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=users::PAGE_LIMIT).contains(&limit) {
        let refused = format!("limit is 1 to {}.", users::PAGE_LIMIT);
        return Err(Problem::malformed(refused));
    }
    let query = UserQuery {
        text: params.q.filter(|q| !q.trim().is_empty()),
        blocked: params.blocked,
        ..UserQuery::default()
    };
    let found = users::search(&state, &caller.actor, &caller.tenant, &query, before, limit)
        .await
        .map_err(caller.refused())?;
    let next_cursor = (found.len() == limit as usize)
        .then(|| found.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(UserPage {
        data: found.iter().map(UserOut::from).collect(),
        next_cursor,
    }))
}

/// One user (`users:read`).
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserOut), Refusals),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<UserOut>, Problem> {
    let user = users::get(&state, &caller.actor, &caller.tenant, user_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(Json(UserOut::from(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    email: String,
    #[serde(default)]
    name: Option<String>,
    /// Without one, the person is invited by email to choose one.
    #[serde(default)]
    password: Option<String>,
}

/// Creates a user (`users:write`): with a password, or invited by email to choose one.
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", request_body = NewUserBody,
    responses((status = 201, description = "Created; Location names the user", body = UserOut), Refusals),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: NewUserBody = json_body(&body)?;
    let new = NewUser {
        email: &body.email,
        name: body.name.as_deref(),
        password: body.password,
        admin: false,
    };
    let user = users::create(&state, &caller.actor, &caller.tenant, new)
        .await
        .map_err(caller.refused())?;
    let location = format!("/t/{}/api/v1/users/{}", caller.tenant.slug, user.id);
    let created = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserOut::from(&user)),
    );
    Ok(created.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Changes a user's email address or name (`users:write`): the fields sent change, the
/// others stay. A new address is unverified.
#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "users", params(("id" = String, Path, description = "The user's id")),
    request_body = UserChanges,
    responses((status = 200, description = "The user as changed", body = UserOut), Refusals),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<UserOut>, Problem> {
    let id = user_id(&id)?;
    let changes: UserChanges = json_body(&body)?;
    let (actor, tenant) = (&caller.actor, &caller.tenant);
    let current = users::get(&state, actor, tenant, id)
        .await
        .map_err(caller.refused())?;
    let email = changes.email.unwrap_or_else(|| current.email.to_string());
    let name = changes.name.or(current.name).unwrap_or_default();
    let user = users::update_profile(&state, actor, tenant, id, &email, &name)
        .await
        .map_err(caller.refused())?;
    Ok(Json(UserOut::from(&user)))
}

async fn set_blocked(
    state: &AppState,
    caller: &Caller,
    id: &str,
    blocked: bool,
) -> Result<Json<UserOut>, Problem> {
    let user = users::set_blocked(state, &caller.actor, &caller.tenant, user_id(id)?, blocked)
        .await
        .map_err(caller.refused())?;
    Ok(Json(UserOut::from(&user)))
}

/// Blocks the user and ends every sign-in they have (`users:write`).
#[utoipa::path(post, path = "/users/{id}/block", operation_id = "block_user", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user, blocked", body = UserOut), Refusals),
    security(("api_key" = [])))]
pub async fn block(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<UserOut>, Problem> {
    set_blocked(&state, &caller, &id, true).await
}

/// Lets a blocked user sign in again (`users:write`).
#[utoipa::path(post, path = "/users/{id}/unblock", operation_id = "unblock_user", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user, unblocked", body = UserOut), Refusals),
    security(("api_key" = [])))]
pub async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<UserOut>, Problem> {
    set_blocked(&state, &caller, &id, false).await
}

/// Deletes the user as the console does (`users:write`): signed out at once, restorable in
/// the console.
#[utoipa::path(delete, path = "/users/{id}", operation_id = "delete_user", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted"), Refusals),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    users::soft_delete(&state, &caller.actor, &caller.tenant, user_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// Why, for the audit log.
    reason: String,
}

/// Removes every second factor of the user, who is told by email (`users:write`); the reason
/// goes into the audit log.
#[utoipa::path(post, path = "/users/{id}/reset-factors", operation_id = "reset_user_factors", tag = "users", params(("id" = String, Path, description = "The user's id")),
    request_body = ResetBody,
    responses((status = 200, description = "How many factors were removed", body = FactorsRemoved), Refusals),
    security(("api_key" = [])))]
pub async fn reset_factors(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<FactorsRemoved>, Problem> {
    let id = user_id(&id)?;
    let body: ResetBody = json_body(&body)?;
    let removed = users::reset_factors(&state, &caller.actor, &caller.tenant, id, &body.reason)
        .await
        .map_err(caller.refused())?;
    Ok(Json(FactorsRemoved { removed }))
}
