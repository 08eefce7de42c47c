//! SCIM 2.0 provisioning (RFC 7643 schemas, RFC 7644 protocol) at `/t/{slug}/scim/v2/`: other
//! systems (HR tools, Okta, Entra ID) create, change, deactivate and delete the organisation's
//! people (`/Users`) and teams (`/Groups`). Callers authenticate like the management API (an
//! API key, or an application's access token for the API) and each change runs the console's
//! use case, with its permission checks and audit events.

mod discovery;
mod filter;
mod groups;
mod users;

use super::api::{Caller, Problem};
use crate::domain::{Tenant, Timestamp};
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use filter::Filter;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// RFC 7644 §8.1.
const CONTENT_TYPE: &str = "application/scim+json";
/// The most resources one list answers with (`count` is capped to it, RFC 7644 §3.4.2.4).
const MAX_RESULTS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route(
            "/t/{slug}/scim/v2/ResourceTypes",
            get(discovery::resource_types),
        )
        .route(
            "/t/{slug}/scim/v2/ResourceTypes/{name}",
            get(discovery::resource_type),
        )
        .route("/t/{slug}/scim/v2/Schemas", get(discovery::schemas))
        .route("/t/{slug}/scim/v2/Schemas/{id}", get(discovery::schema))
        .route(
            "/t/{slug}/scim/v2/Users",
            get(users::list).post(users::create),
        )
        .route(
            "/t/{slug}/scim/v2/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(
            "/t/{slug}/scim/v2/Groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/t/{slug}/scim/v2/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
}

/// A SCIM caller: the management API's, refused in SCIM's error format.
pub struct ScimCaller(Caller);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        Caller::from_request_parts(parts, state)
            .await
            .map(Self)
            .map_err(ScimError::from)
    }
}

impl ScimCaller {
    fn refused(&self) -> impl Fn(AppError) -> ScimError + '_ {
        |e| ScimError::from(Problem::of(e, &self.0.meta))
    }

    /// Where this organisation's SCIM resources live.
    fn base(&self, state: &AppState) -> String {
        base(state, &self.0.tenant)
    }
}

fn base(state: &AppState, tenant: &Tenant) -> String {
    format!("{}/scim/v2", state.config.issuer(tenant.slug.as_str()))
}

/// RFC 7644 §3.12: an error as SCIM's error message, with `scimType` where one applies.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// A value the request cannot have (RFC 7644 §3.12 `invalidValue`).
    fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("There is no such {what} here."),
        )
    }
}

impl From<Problem> for ScimError {
    fn from(problem: Problem) -> Self {
        let (status, scim_type) = match problem.status() {
            // A use case's refusal of a value (the management API's 422).
            StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            StatusCode::CONFLICT => (StatusCode::CONFLICT, Some("uniqueness")),
            other => (other, None),
        };
        let detail = problem.detail().to_owned();
        Self {
            status,
            scim_type,
            detail,
            headers: problem.into_headers(),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = scim_json(self.status, &body);
        response.headers_mut().extend(self.headers);
        response
    }
}

/// A SCIM answer: `application/scim+json`, never cached.
fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A resource just created (201, its `Location`) or read and changed (200).
fn resource(status: StatusCode, body: Value) -> Response {
    let mut response = scim_json(status, &body);
    if status == StatusCode::CREATED {
        if let Some(location) = body["meta"]["location"]
            .as_str()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

/// A JSON object as the request body (SCIM clients send `application/scim+json` or
/// `application/json`), or the error to answer.
fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ScimError> {
    let refused =
        |e: serde_json::Error| ScimError::invalid_syntax(format!("The body is not valid: {e}."));
    match serde_json::from_slice(body).map_err(refused)? {
        object @ Value::Object(_) => serde_json::from_value(object).map_err(refused),
        _ => Err(ScimError::invalid_syntax("The body is a JSON object.")),
    }
}

/// RFC 7643 §3.1 `meta`.
fn meta(kind: &str, location: String, created: Timestamp, modified: Timestamp) -> Value {
    json!({
        "resourceType": kind,
        "created": created.rfc3339(),
        "lastModified": modified.rfc3339(),
        "location": location,
    })
}

/// RFC 7644 §3.4.2.4: `startIndex` (1-based) and `count` of a list.
struct Window {
    start: usize,
    count: usize,
}

impl Window {
    fn parse(start: Option<&str>, count: Option<&str>) -> Result<Self, ScimError> {
        let number = |raw: Option<&str>, what: &str, default: usize| match raw {
            None => Ok(default),
            // Below 1 is taken as 1, and a negative count as 0 (§3.4.2.4).
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as usize)
                .map_err(|_| ScimError::invalid_value(format!("{what} is a whole number."))),
        };
        Ok(Self {
            start: number(start, "startIndex", 1)?.max(1),
            count: number(count, "count", MAX_RESULTS)?.min(MAX_RESULTS),
        })
    }

    /// The `filter` and the window of a list request's query.
    fn of_list(params: &HashMap<String, String>) -> Result<(Filter, Self), ScimError> {
        let filter = match params.get("filter") {
            Some(raw) => Filter::parse(raw)?,
            None => Filter::default(),
        };
        let window = Self::parse(
            params.get("startIndex").map(String::as_str),
            params.get("count").map(String::as_str),
        )?;
        Ok((filter, window))
    }

    /// How many of `all` there are, and those within the window.
    fn cut<T>(&self, all: Vec<T>) -> (usize, Vec<T>) {
        let total = all.len();
        let page = all
            .into_iter()
            .skip(self.start - 1)
            .take(self.count)
            .collect();
        (total, page)
    }

    /// The list answer: `page`, the window of `total` matching resources.
    fn answer(&self, total: usize, page: Vec<Value>) -> Response {
        let body = json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": self.start,
            "itemsPerPage": page.len(),
            "Resources": page,
        });
        scim_json(StatusCode::OK, &body)
    }
}

/// RFC 7644 §3.5.2: a PATCH request's operations.
#[derive(serde::Deserialize)]
struct PatchRequest {
    schemas: Vec<String>,
    #[serde(rename = "Operations")]
    operations: Vec<PatchOperation>,
}

#[derive(serde::Deserialize)]
struct PatchOperation {
    op: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    value: Option<Value>,
}

/// One checked operation of a PATCH request.
struct Operation {
    op: Op,
    path: Option<String>,
    value: Option<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

impl PatchRequest {
    fn parse(body: &Bytes) -> Result<Vec<Operation>, ScimError> {
        let request: PatchRequest = json_body(body)?;
        if !request.schemas.iter().any(|s| s == PATCH_SCHEMA) {
            return Err(ScimError::invalid_syntax(format!(
                "A PATCH request names the schema {PATCH_SCHEMA}."
            )));
        }
        if request.operations.is_empty() || request.operations.len() > 100 {
            return Err(ScimError::invalid_syntax("Send 1 to 100 operations."));
        }
        request
            .operations
            .into_iter()
            .map(|operation| {
                // Some clients (Entra ID) capitalise the operation.
                let op = match operation.op.to_ascii_lowercase().as_str() {
                    "add" => Op::Add,
                    "replace" => Op::Replace,
                    "remove" => Op::Remove,
                    _ => return Err(ScimError::invalid_syntax("op is add, replace or remove.")),
                };
                if op != Op::Remove && operation.value.is_none() {
                    return Err(ScimError::invalid_value("add and replace need a value."));
                }
                if op == Op::Remove && operation.path.is_none() {
                    let refused = ScimError::new(
                        StatusCode::BAD_REQUEST,
                        Some("noTarget"),
                        "remove needs a path.",
                    );
                    return Err(refused);
                }
                Ok(Operation {
                    op,
                    path: operation.path,
                    value: operation.value,
                })
            })
            .collect()
    }
}

/// A boolean as SCIM clients send it: `true`, or (Entra ID) `"True"`.
fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}
