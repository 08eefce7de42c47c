//! `/Users` (RFC 7643 §4.1): the organisation's people. `userName` is the email address,
//! `name.formatted` and `displayName` the name, `active` the opposite of blocked; a deleted
//! user (restorable in the console) is gone for SCIM.

use super::{
    boolean, json_body, meta, resource, Op, Operation, PatchRequest, ScimCaller, ScimError, Window,
};
use crate::admin::roles;
use crate::admin::users::{self, NewUser};
use crate::domain::{Team, User, UserId};
use crate::state::AppState;
use crate::store::UserQuery;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The users as SCIM has them, with the teams each is in (`groups`, read-only).
async fn render_all(
    state: &AppState,
    caller: &ScimCaller,
    users: &[User],
) -> Result<Vec<Value>, ScimError> {
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let teams = roles::teams_of(state, &caller.0.actor, &caller.0.tenant, &ids)
        .await
        .map_err(caller.refused())?;
    let base = caller.base(state);
    Ok(users
        .iter()
        .zip(&teams)
        .map(|(user, teams)| to_scim(user, teams, &base))
        .collect())
}

async fn render(state: &AppState, caller: &ScimCaller, user: &User) -> Result<Value, ScimError> {
    let mut one = render_all(state, caller, std::slice::from_ref(user)).await?;
    Ok(one.pop().unwrap_or_default())
}

fn to_scim(user: &User, teams: &[Team], base: &str) -> Value {
    let name = user.name.clone().unwrap_or_default();
    let mut body = json!({
        "schemas": [SCHEMA],
        "id": user.id.to_string(),
        "userName": user.email.to_string(),
        "emails": [{"value": user.email.to_string(), "type": "work", "primary": true}],
        "active": !user.blocked,
        "meta": meta("User", format!("{base}/Users/{}", user.id), user.created_at, user.updated_at),
    });
    if !name.is_empty() {
        body["name"] = json!({ "formatted": name });
        body["displayName"] = json!(name);
    }
    if let Some(external_id) = &user.external_id {
        body["externalId"] = json!(external_id);
    }
    if !teams.is_empty() {
        body["groups"] = teams
            .iter()
            .map(|t| json!({"value": t.id.to_string(), "$ref": format!("{base}/Groups/{}", t.id), "display": t.name, "type": "direct"}))
            .collect();
    }
    body
}

/// The values of an attribute, by its lower-case path, for filters.
fn values(user: &User, attribute: &str) -> Vec<Value> {
    let name = || user.name.clone().map(Value::String).into_iter().collect();
    match attribute {
        "id" => vec![json!(user.id.to_string())],
        "username" | "emails" | "emails.value" => vec![json!(user.email.to_string())],
        "displayname" | "name.formatted" => name(),
        "active" => vec![json!(!user.blocked)],
        "externalid" => user
            .external_id
            .clone()
            .map(Value::String)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// A user of the organisation that SCIM can see (not deleted); `NotFound` otherwise.
async fn find(state: &AppState, caller: &ScimCaller, raw: &str) -> Result<User, ScimError> {
    let id: UserId = raw.parse().map_err(|_| ScimError::not_found("user"))?;
    let user = users::get(state, &caller.0.actor, &caller.0.tenant, id)
        .await
        .map_err(caller.refused())?;
    match user.deleted_at {
        None => Ok(user),
        Some(_) => Err(ScimError::not_found("user")),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: ScimCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let (filter, window) = Window::of_list(&params)?;
    let query = UserQuery {
        text: filter.text(&[
            "username",
            "emails.value",
            "emails",
            "displayname",
            "name.formatted",
        ]),
        deleted: Some(false),
        ..UserQuery::default()
    };
    let mut found = Vec::new();
    let mut before = None;
    loop {
        let page = users::search(
            &state,
            &caller.0.actor,
            &caller.0.tenant,
            &query,
            before,
            users::PAGE_LIMIT,
        )
        .await
        .map_err(caller.refused())?;
        before = page.last().map(|u| u.id);
        let full = page.len() == users::PAGE_LIMIT as usize;
        found.extend(
            page.into_iter()
                .filter(|u| filter.matches(|attribute| values(u, attribute))),
        );
        if !full {
            break;
        }
    }
    // Oldest first, so that a client paging with startIndex meets newcomers at the end.
    found.reverse();
    let (total, users) = window.cut(found);
    let page = render_all(&state, &caller, &users).await?;
    Ok(window.answer(total, page))
}

pub async fn get(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let user = find(&state, &caller, &id).await?;
    Ok(resource(
        StatusCode::OK,
        render(&state, &caller, &user).await?,
    ))
}

/// What a POST or PUT sends; everything else of RFC 7643's User is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    name: Option<NameBody>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    emails: Vec<EmailBody>,
    #[serde(default)]
    active: Option<Value>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NameBody {
    #[serde(default)]
    formatted: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
}

impl NameBody {
    fn full(&self) -> Option<String> {
        self.formatted.clone().or_else(|| {
            let parts: Vec<&str> = [&self.given_name, &self.family_name]
                .into_iter()
                .flatten()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
    }
}

#[derive(Deserialize)]
struct EmailBody {
    value: String,
    #[serde(default)]
    primary: Option<Value>,
}

impl UserBody {
    /// The email address: `userName`, else the primary (or only) email.
    fn email(&self) -> Result<String, ScimError> {
        let primary = self
            .emails
            .iter()
            .find(|e| e.primary.as_ref().and_then(boolean) == Some(true))
            .or(self.emails.first());
        self.user_name
            .clone()
            .or_else(|| primary.map(|e| e.value.clone()))
            .ok_or_else(|| ScimError::invalid_value("userName (an email address) is required."))
    }

    fn full_name(&self) -> Option<String> {
        self.name
            .as_ref()
            .and_then(NameBody::full)
            .or_else(|| self.display_name.clone())
    }

    fn active(&self) -> Result<Option<bool>, ScimError> {
        self.active
            .as_ref()
            .map(|a| boolean(a).ok_or_else(|| ScimError::invalid_value("active is true or false.")))
            .transpose()
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: UserBody = json_body(&body)?;
    let email = body.email()?;
    let active = body.active()?;
    let name = body.full_name();
    let external_id = body.external_id.as_deref().unwrap_or_default();
    User::check_external_id(external_id).map_err(invalid)?;
    let new = NewUser {
        email: &email,
        name: name.as_deref(),
        password: body.password.clone(),
        admin: false,
    };
    let (actor, tenant) = (&caller.0.actor, &caller.0.tenant);
    let mut user = users::create(&state, actor, tenant, new)
        .await
        .map_err(caller.refused())?;
    if !external_id.is_empty() {
        user = users::set_external_id(&state, actor, tenant, user.id, external_id)
            .await
            .map_err(caller.refused())?;
    }
    if active == Some(false) {
        user = users::set_blocked(&state, actor, tenant, user.id, true)
            .await
            .map_err(caller.refused())?;
    }
    Ok(resource(
        StatusCode::CREATED,
        render(&state, &caller, &user).await?,
    ))
}

/// RFC 7644 §3.5.1: the attributes sent replace the user's; a name left out is removed.
pub async fn replace(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body: UserBody = json_body(&body)?;
    let user = find(&state, &caller, &id).await?;
    let changes = Changes {
        email: Some(body.email()?),
        name: Some(body.full_name().unwrap_or_default()),
        active: body.active()?,
        external_id: Some(body.external_id.unwrap_or_default()),
    };
    let user = changes.apply(&state, &caller, user).await?;
    Ok(resource(
        StatusCode::OK,
        render(&state, &caller, &user).await?,
    ))
}

/// RFC 7644 §3.5.2: add, replace and remove of `userName`, `emails`, `name`, `displayName`
/// and `active`, with a path or (add, replace) as attributes of a value object.
pub async fn patch(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let operations = PatchRequest::parse(&body)?;
    let user = find(&state, &caller, &id).await?;
    let mut changes = Changes::default();
    for Operation { op, path, value } in operations {
        match (path, value) {
            (Some(path), value) => changes.set(op, &path, value.as_ref())?,
            (None, Some(Value::Object(attributes))) => {
                for (name, value) in attributes {
                    changes.set(op, &name, Some(&value))?;
                }
            }
            (None, _) => {
                return Err(ScimError::invalid_value(
                    "Without a path, the value is an object of attributes.",
                ))
            }
        }
    }
    let user = changes.apply(&state, &caller, user).await?;
    Ok(resource(
        StatusCode::OK,
        render(&state, &caller, &user).await?,
    ))
}

/// What a PUT or PATCH changes, checked by the use cases when applied.
#[derive(Default)]
struct Changes {
    email: Option<String>,
    name: Option<String>,
    active: Option<bool>,
    external_id: Option<String>,
}

impl Changes {
    fn set(&mut self, op: Op, path: &str, value: Option<&Value>) -> Result<(), ScimError> {
        let text = |value: Option<&Value>| -> Result<String, ScimError> {
            match value {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(ScimError::invalid_value(format!("{path} is a string."))),
            }
        };
        let path = path.to_ascii_lowercase();
        let path = path
            .strip_prefix(&format!("{}:", SCHEMA.to_ascii_lowercase()))
            .unwrap_or(&path);
        match (op, path) {
            (Op::Remove, "name" | "name.formatted" | "displayname") => {
                self.name = Some(String::new())
            }
            (_, "name.formatted" | "displayname") => self.name = Some(text(value)?),
            (_, "name") => {
                let name: NameBody = value
                    .cloned()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .ok_or_else(|| ScimError::invalid_value("name is an object."))?;
                self.name = Some(name.full().unwrap_or_default());
            }
            (_, "active") => {
                let active = value
                    .and_then(boolean)
                    .ok_or_else(|| ScimError::invalid_value("active is true or false."))?;
                self.active = Some(active);
            }
            (Op::Remove, "username" | "emails" | "emails.value") => {
                return Err(ScimError::invalid_value(
                    "A user keeps an email address: replace it instead.",
                ))
            }
            (_, "username") => self.email = Some(text(value)?),
            (Op::Remove, "externalid") => self.external_id = Some(String::new()),
            (_, "externalid") => self.external_id = Some(text(value)?),
            // `emails[type eq "work"].value` (Entra ID), `emails.value` or `emails` itself.
            (_, p) if p == "emails" || p.starts_with("emails[") || p == "emails.value" => {
                let email = match value {
                    Some(Value::Array(list)) => list
                        .iter()
                        .find(|e| e.get("primary").and_then(boolean) == Some(true))
                        .or(list.first())
                        .and_then(|e| e.get("value"))
                        .cloned(),
                    other => other.cloned(),
                };
                self.email = Some(text(email.as_ref())?);
            }
            _ => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    format!("{path} is not an attribute this server changes."),
                ))
            }
        }
        Ok(())
    }

    async fn apply(
        self,
        state: &AppState,
        caller: &ScimCaller,
        mut user: User,
    ) -> Result<User, ScimError> {
        let (actor, tenant) = (&caller.0.actor, &caller.0.tenant);
        // Checked before anything changes, as the other fields are by the first use case.
        if let Some(raw) = &self.external_id {
            User::check_external_id(raw).map_err(invalid)?;
        }
        if self.email.is_some() || self.name.is_some() {
            let email = self.email.unwrap_or_else(|| user.email.to_string());
            let name = self
                .name
                .unwrap_or_else(|| user.name.clone().unwrap_or_default());
            user = users::update_profile(state, actor, tenant, user.id, &email, &name)
                .await
                .map_err(caller.refused())?;
        }
        if let Some(raw) = &self.external_id {
            user = users::set_external_id(state, actor, tenant, user.id, raw)
                .await
                .map_err(caller.refused())?;
        }
        if let Some(active) = self.active.filter(|active| *active == user.blocked) {
            user = users::set_blocked(state, actor, tenant, user.id, !active)
                .await
                .map_err(caller.refused())?;
        }
        Ok(user)
    }
}

fn invalid(refused: crate::domain::Invalid) -> ScimError {
    ScimError::invalid_value(refused.message())
}

/// Deletes the user (restorable in the console); they are gone for SCIM.
pub async fn delete(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimError> {
    let user = find(&state, &caller, &id).await?;
    users::soft_delete(&state, &caller.0.actor, &caller.0.tenant, user.id)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}
