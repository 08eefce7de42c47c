//! `/Groups` (RFC 7643 §4.2): the organisation's teams, with their members (users only). A
//! team's roles stay as the console set them; joining a team through SCIM gives its roles, so
//! the caller needs to hold them (the console's rule).

use super::filter::Filter;
use super::{
    json_body, meta, resource, Op, Operation, PatchRequest, ScimCaller, ScimError, Window,
};
use crate::admin::{roles, users};
use crate::domain::{Team, UserId};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn to_scim(team: &Team, members: Option<&[UserId]>, base: &str) -> Value {
    let mut body = json!({
        "schemas": [SCHEMA],
        "id": team.id.to_string(),
        "displayName": team.name,
        "meta": meta("Group", format!("{base}/Groups/{}", team.id), team.created_at, team.created_at),
    });
    if let Some(members) = members {
        body["members"] = members
            .iter()
            .map(|id| json!({"value": id.to_string(), "$ref": format!("{base}/Users/{id}"), "type": "User"}))
            .collect();
    }
    body
}

async fn find(state: &AppState, caller: &ScimCaller, raw: &str) -> Result<Team, ScimError> {
    let id: Uuid = raw.parse().map_err(|_| ScimError::not_found("group"))?;
    roles::team(state, &caller.0.actor, &caller.0.tenant, id)
        .await
        .map_err(caller.refused())
}

async fn members(
    state: &AppState,
    caller: &ScimCaller,
    team: &Team,
) -> Result<Vec<UserId>, ScimError> {
    roles::members(state, &caller.0.actor, &caller.0.tenant, team.id)
        .await
        .map_err(caller.refused())
}

/// RFC 7644 §3.9: `excludedAttributes=members` leaves the (possibly long) member lists out.
fn with_members(params: &HashMap<String, String>) -> bool {
    !params.get("excludedAttributes").is_some_and(|e| {
        e.split(',')
            .any(|a| a.trim().eq_ignore_ascii_case("members"))
    })
}

pub async fn list(
    State(state): State<AppState>,
    caller: ScimCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let (filter, window) = Window::of_list(&params)?;
    let teams = roles::teams(&state, &caller.0.actor, &caller.0.tenant)
        .await
        .map_err(caller.refused())?;
    let base = caller.base(&state);
    let matching: Vec<&Team> = teams
        .iter()
        .filter(|t| {
            filter.matches(|attribute| match attribute {
                "displayname" => vec![json!(t.name)],
                "id" => vec![json!(t.id.to_string())],
                _ => Vec::new(),
            })
        })
        .collect();
    let (total, teams) = window.cut(matching);
    let mut page = Vec::new();
    for team in teams {
        let members = match with_members(&params) {
            true => Some(members(&state, &caller, team).await?),
            false => None,
        };
        page.push(to_scim(team, members.as_deref(), &base));
    }
    Ok(window.answer(total, page))
}

pub async fn get(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let team = find(&state, &caller, &id).await?;
    let members = match with_members(&params) {
        true => Some(members(&state, &caller, &team).await?),
        false => None,
    };
    let body = to_scim(&team, members.as_deref(), &caller.base(&state));
    Ok(resource(StatusCode::OK, body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupBody {
    display_name: String,
    #[serde(default)]
    members: Vec<MemberBody>,
}

#[derive(Deserialize)]
struct MemberBody {
    value: String,
}

/// The users named as members, each one of the organisation's (checked before anything
/// changes).
async fn member_ids(
    state: &AppState,
    caller: &ScimCaller,
    values: impl IntoIterator<Item = String>,
) -> Result<Vec<UserId>, ScimError> {
    let mut ids = Vec::new();
    for value in values {
        let unknown =
            || ScimError::invalid_value(format!("{value:?} is not a user of this organisation."));
        let id: UserId = value.parse().map_err(|_| unknown())?;
        let user = users::get(state, &caller.0.actor, &caller.0.tenant, id)
            .await
            .map_err(|_| unknown())?;
        if user.deleted_at.is_some() {
            return Err(unknown());
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: GroupBody = json_body(&body)?;
    let wanted = member_ids(&state, &caller, body.members.into_iter().map(|m| m.value)).await?;
    let (actor, tenant) = (&caller.0.actor, &caller.0.tenant);
    let team = roles::create_team(&state, actor, tenant, &body.display_name, "")
        .await
        .map_err(caller.refused())?;
    // A member the caller may not give the team's roles to: no half-made group stays behind.
    let members = match set_members(&state, &caller, &team, &[], &wanted).await {
        Ok(members) => members,
        Err(refused) => {
            let undone = roles::delete_team(&state, actor, tenant, team.id).await;
            if let Err(e) = undone {
                tracing::warn!(error = %e, "SCIM: a group whose members were refused stays");
            }
            return Err(refused);
        }
    };
    let body = to_scim(&team, Some(&members), &caller.base(&state));
    Ok(resource(StatusCode::CREATED, body))
}

/// Adds and removes members until the team has `wanted`; returns its members.
async fn set_members(
    state: &AppState,
    caller: &ScimCaller,
    team: &Team,
    current: &[UserId],
    wanted: &[UserId],
) -> Result<Vec<UserId>, ScimError> {
    let (actor, tenant) = (&caller.0.actor, &caller.0.tenant);
    for id in wanted.iter().filter(|id| !current.contains(id)) {
        roles::add_member(state, actor, tenant, team.id, *id)
            .await
            .map_err(caller.refused())?;
    }
    for id in current.iter().filter(|id| !wanted.contains(id)) {
        roles::remove_member(state, actor, tenant, team.id, *id)
            .await
            .map_err(caller.refused())?;
    }
    Ok(wanted.to_vec())
}

async fn rename(
    state: &AppState,
    caller: &ScimCaller,
    team: Team,
    name: &str,
) -> Result<Team, ScimError> {
    if team.name == name {
        return Ok(team);
    }
    let (actor, tenant) = (&caller.0.actor, &caller.0.tenant);
    roles::update_team(
        state,
        actor,
        tenant,
        team.id,
        name,
        &team.description,
        &team.roles,
    )
    .await
    .map_err(caller.refused())
}

/// RFC 7644 §3.5.1: the name and the members sent replace the group's.
pub async fn replace(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: GroupBody = json_body(&body)?;
    let team = find(&state, &caller, &id).await?;
    let wanted = member_ids(&state, &caller, body.members.into_iter().map(|m| m.value)).await?;
    let current = members(&state, &caller, &team).await?;
    let team = rename(&state, &caller, team, &body.display_name).await?;
    let members = set_members(&state, &caller, &team, &current, &wanted).await?;
    let body = to_scim(&team, Some(&members), &caller.base(&state));
    Ok(resource(StatusCode::OK, body))
}

/// RFC 7644 §3.5.2: `displayName` replaced; `members` added, replaced, or removed (all, or
/// those of `members[value eq "…"]`, or those listed in the value).
pub async fn patch(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let operations = PatchRequest::parse(&body)?;
    let team = find(&state, &caller, &id).await?;
    let current = members(&state, &caller, &team).await?;
    let mut wanted = current.clone();
    let mut name = team.name.clone();
    for Operation { op, path, value } in operations {
        let path = path.map(|p| p.trim().to_owned());
        let lower = path.as_deref().map(str::to_ascii_lowercase);
        match (op, lower.as_deref(), value) {
            (Op::Add | Op::Replace, Some("displayname"), Some(Value::String(new))) => name = new,
            (Op::Add | Op::Replace, None, Some(Value::Object(attributes))) => {
                for (attribute, value) in attributes {
                    match (attribute.to_ascii_lowercase().as_str(), value) {
                        ("displayname", Value::String(new)) => name = new,
                        ("members", Value::Array(list)) => {
                            let listed = member_ids(&state, &caller, values(&list)?).await?;
                            if op == Op::Replace {
                                wanted.clear();
                            }
                            add_all(&mut wanted, listed);
                        }
                        _ => return Err(not_changeable(&attribute)),
                    }
                }
            }
            (Op::Add | Op::Replace, Some("members"), Some(Value::Array(list))) => {
                let listed = member_ids(&state, &caller, values(&list)?).await?;
                if op == Op::Replace {
                    wanted.clear();
                }
                add_all(&mut wanted, listed);
            }
            (Op::Remove, Some("members"), None) => wanted.clear(),
            (Op::Remove, Some("members"), Some(Value::Array(list))) => {
                let listed = values(&list)?;
                wanted.retain(|id| !listed.contains(&id.to_string()));
            }
            (Op::Remove, Some(p), None) if p.starts_with("members[") => {
                let inner = &path.as_deref().unwrap_or_default()["members[".len()..];
                let inner = inner.strip_suffix(']').ok_or_else(|| not_changeable(p))?;
                let filter = Filter::parse(inner)?;
                wanted.retain(|id| {
                    !filter.matches(|attribute| match attribute {
                        "value" => vec![json!(id.to_string())],
                        _ => Vec::new(),
                    })
                });
            }
            (_, Some(p), _) => return Err(not_changeable(p)),
            (_, None, _) => {
                return Err(ScimError::invalid_value(
                    "Without a path, the value is an object of attributes.",
                ))
            }
        }
    }
    let team = rename(&state, &caller, team, &name).await?;
    let members = set_members(&state, &caller, &team, &current, &wanted).await?;
    let body = to_scim(&team, Some(&members), &caller.base(&state));
    Ok(resource(StatusCode::OK, body))
}

fn add_all(wanted: &mut Vec<UserId>, listed: Vec<UserId>) {
    for id in listed {
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
}

/// The `value`s of a list of members.
fn values(list: &[Value]) -> Result<Vec<String>, ScimError> {
    list.iter()
        .map(|m| {
            m.get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::invalid_value("Each member is {\"value\": \"<user id>\"}.")
                })
        })
        .collect()
}

fn not_changeable(path: &str) -> ScimError {
    ScimError::new(
        StatusCode::BAD_REQUEST,
        Some("invalidPath"),
        format!("{path} is not an attribute this server changes that way."),
    )
}

pub async fn delete(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimError> {
    let team = find(&state, &caller, &id).await?;
    roles::delete_team(&state, &caller.0.actor, &caller.0.tenant, team.id)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}
