//! `/roles` and `/teams`: custom roles and who holds them, teams, their roles and members
//! (`roles:manage`, `teams:manage`; reading also with `users:read`), through the console's
//! use cases: nobody hands out more than they hold.

use super::problem::Refusals;
use super::{json_body, user_id, Caller, Problem};
use crate::admin::roles;
use crate::domain::{Role, Team, UserId};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A role: built in (every organisation has them) or custom.
#[derive(Serialize, ToSchema)]
pub struct RoleOut {
    /// The built-in role's name, or `role-…` for a custom role.
    id: String,
    name: String,
    description: String,
    permissions: Vec<String>,
    built_in: bool,
}

impl From<&Role> for RoleOut {
    fn from(role: &Role) -> Self {
        Self {
            id: role.id.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            permissions: role.permissions.iter().map(|p| p.to_string()).collect(),
            built_in: role.built_in,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    data: Vec<RoleOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: String,
    #[serde(default)]
    description: String,
    /// `resource:action`, `resource:*` or `*`.
    permissions: Vec<String>,
}

/// A team: its members hold its roles.
#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    id: String,
    name: String,
    description: String,
    /// Role ids.
    roles: Vec<String>,
}

impl From<&Team> for TeamOut {
    fn from(team: &Team) -> Self {
        Self {
            id: team.id.to_string(),
            name: team.name.clone(),
            description: team.description.clone(),
            roles: team.roles.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamList {
    data: Vec<TeamOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Role ids every member holds; absent keeps them (a new team has none).
    #[serde(default)]
    roles: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    /// User ids.
    data: Vec<String>,
}

fn team_id(raw: &str) -> Result<Uuid, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found("There is no such team here."))
}

/// Every role: built-in ones first, then custom ones by name.
#[utoipa::path(get, path = "/roles", tag = "roles",
    responses((status = 200, description = "The roles", body = RoleList), Refusals),
    security(("api_key" = [])))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RoleList>, Problem> {
    let all = roles::list(&state, &caller.actor, &caller.tenant)
        .await
        .map_err(caller.refused())?;
    Ok(Json(RoleList {
        data: all.iter().map(RoleOut::from).collect(),
    }))
}

/// Makes a custom role (`roles:manage`).
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = RoleBody,
    responses((status = 201, description = "The role", body = RoleOut), Refusals),
    security(("api_key" = [])))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: RoleBody = json_body(&body)?;
    let role = roles::create(
        &state,
        &caller.actor,
        &caller.tenant,
        &body.name,
        &body.description,
        &body.permissions,
    )
    .await
    .map_err(caller.refused())?;
    Ok((StatusCode::CREATED, Json(RoleOut::from(&role))).into_response())
}

/// Replaces a custom role's name, description and permissions (`roles:manage`).
#[utoipa::path(put, path = "/roles/{id}", tag = "roles", params(("id" = String, Path, description = "The role's id")),
    request_body = RoleBody,
    responses((status = 200, description = "The role", body = RoleOut), Refusals),
    security(("api_key" = [])))]
pub async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RoleOut>, Problem> {
    let body: RoleBody = json_body(&body)?;
    let role = roles::update(
        &state,
        &caller.actor,
        &caller.tenant,
        &id,
        &body.name,
        &body.description,
        &body.permissions,
    )
    .await
    .map_err(caller.refused())?;
    Ok(Json(RoleOut::from(&role)))
}

/// Deletes a custom role; its holders lose it (`roles:manage`).
#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", params(("id" = String, Path, description = "The role's id")),
    responses((status = 204, description = "Deleted"), Refusals),
    security(("api_key" = [])))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    roles::delete(&state, &caller.actor, &caller.tenant, &id)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a user a role (`roles:manage`).
#[utoipa::path(put, path = "/users/{id}/roles/{role}", tag = "roles",
    params(("id" = String, Path, description = "The user's id"), ("role" = String, Path, description = "The role's id")),
    responses((status = 204, description = "The user holds the role"), Refusals),
    security(("api_key" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id, role)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    roles::assign(&state, &caller.actor, &caller.tenant, user_id(&id)?, &role)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a role away from a user (`roles:manage`).
#[utoipa::path(delete, path = "/users/{id}/roles/{role}", tag = "roles",
    params(("id" = String, Path, description = "The user's id"), ("role" = String, Path, description = "The role's id")),
    responses((status = 204, description = "The user no longer holds the role directly"), Refusals),
    security(("api_key" = [])))]
pub async fn unassign(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id, role)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    roles::unassign(&state, &caller.actor, &caller.tenant, user_id(&id)?, &role)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every team, by name.
#[utoipa::path(get, path = "/teams", tag = "teams",
    responses((status = 200, description = "The teams", body = TeamList), Refusals),
    security(("api_key" = [])))]
pub async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TeamList>, Problem> {
    let teams = roles::teams(&state, &caller.actor, &caller.tenant)
        .await
        .map_err(caller.refused())?;
    Ok(Json(TeamList {
        data: teams.iter().map(TeamOut::from).collect(),
    }))
}

/// Makes a team (`teams:manage`), with roles when given.
#[utoipa::path(post, path = "/teams", tag = "teams", request_body = TeamBody,
    responses((status = 201, description = "The team", body = TeamOut), Refusals),
    security(("api_key" = [])))]
pub async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: TeamBody = json_body(&body)?;
    let (actor, tenant) = (&caller.actor, &caller.tenant);
    let mut team = roles::create_team(&state, actor, tenant, &body.name, &body.description)
        .await
        .map_err(caller.refused())?;
    if let Some(given) = body.roles.filter(|r| !r.is_empty()) {
        team = roles::update_team(
            &state,
            actor,
            tenant,
            team.id,
            &team.name,
            &team.description,
            &given,
        )
        .await
        .map_err(caller.refused())?;
    }
    Ok((StatusCode::CREATED, Json(TeamOut::from(&team))).into_response())
}

/// Replaces a team's name and description, and its roles when given (`teams:manage`).
#[utoipa::path(put, path = "/teams/{id}", tag = "teams", params(("id" = String, Path, description = "The team's id")),
    request_body = TeamBody,
    responses((status = 200, description = "The team", body = TeamOut), Refusals),
    security(("api_key" = [])))]
pub async fn update_team(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<TeamOut>, Problem> {
    let id = team_id(&id)?;
    let body: TeamBody = json_body(&body)?;
    let (actor, tenant) = (&caller.actor, &caller.tenant);
    let current = roles::team(&state, actor, tenant, id)
        .await
        .map_err(caller.refused())?;
    let given = body.roles.unwrap_or(current.roles);
    let team = roles::update_team(
        &state,
        actor,
        tenant,
        id,
        &body.name,
        &body.description,
        &given,
    )
    .await
    .map_err(caller.refused())?;
    Ok(Json(TeamOut::from(&team)))
}

/// Deletes a team; its members lose its roles (`teams:manage`).
#[utoipa::path(delete, path = "/teams/{id}", tag = "teams", params(("id" = String, Path, description = "The team's id")),
    responses((status = 204, description = "Deleted"), Refusals),
    security(("api_key" = [])))]
pub async fn delete_team(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    roles::delete_team(&state, &caller.actor, &caller.tenant, team_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team's members.
#[utoipa::path(get, path = "/teams/{id}/members", tag = "teams", params(("id" = String, Path, description = "The team's id")),
    responses((status = 200, description = "The members' user ids", body = MemberList), Refusals),
    security(("api_key" = [])))]
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<MemberList>, Problem> {
    let members = roles::members(&state, &caller.actor, &caller.tenant, team_id(&id)?)
        .await
        .map_err(caller.refused())?;
    Ok(Json(MemberList {
        data: members.iter().map(UserId::to_string).collect(),
    }))
}

/// Adds a user to the team (`teams:manage`).
#[utoipa::path(put, path = "/teams/{id}/members/{user}", tag = "teams",
    params(("id" = String, Path, description = "The team's id"), ("user" = String, Path, description = "The user's id")),
    responses((status = 204, description = "The user is a member"), Refusals),
    security(("api_key" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id, user)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    roles::add_member(
        &state,
        &caller.actor,
        &caller.tenant,
        team_id(&id)?,
        user_id(&user)?,
    )
    .await
    .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a user out of the team (`teams:manage`).
#[utoipa::path(delete, path = "/teams/{id}/members/{user}", tag = "teams",
    params(("id" = String, Path, description = "The team's id"), ("user" = String, Path, description = "The user's id")),
    responses((status = 204, description = "The user is no longer a member"), Refusals),
    security(("api_key" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, id, user)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    roles::remove_member(
        &state,
        &caller.actor,
        &caller.tenant,
        team_id(&id)?,
        user_id(&user)?,
    )
    .await
    .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}
