//! What the server supports (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, describing exactly the attributes `/Users` and `/Groups` read and write. Like
//! the API's description, they still need a caller of the organisation (§4 lets a server ask).

use super::{groups, scim_json, users, ScimCaller, ScimError, Window, MAX_RESULTS};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub async fn service_provider_config(
    State(state): State<AppState>,
    caller: ScimCaller,
) -> Response {
    let base = caller.base(&state);
    let body = json!({
        "schemas": [CONFIG_SCHEMA],
        "documentationUri": format!("{}/api/v1/openapi.json", state.config.issuer(caller.0.tenant.slug.as_str())),
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key or access token",
            "description": "An API key of the organisation (tsk_…), or an application's client-credentials access token for the management API, as Authorization: Bearer.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    });
    scim_json(StatusCode::OK, &body)
}

fn resource_types_of(base: &str) -> Vec<Value> {
    [("User", "/Users", users::SCHEMA), ("Group", "/Groups", groups::SCHEMA)]
        .into_iter()
        .map(|(name, endpoint, schema)| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": name,
                "name": name,
                "endpoint": endpoint,
                "description": if name == "User" { "A person of the organisation" } else { "A team of the organisation" },
                "schema": schema,
                "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
            })
        })
        .collect()
}

pub async fn resource_types(State(state): State<AppState>, caller: ScimCaller) -> Response {
    list(resource_types_of(&caller.base(&state)))
}

pub async fn resource_type(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    one(
        resource_types_of(&caller.base(&state)),
        &name,
        "resource type",
    )
}

/// One attribute of a schema (RFC 7643 §7), with the characteristics every one states.
fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attribute: Value, changes: Value) -> Value {
    if let (Some(target), Value::Object(changes)) = (attribute.as_object_mut(), changes) {
        target.extend(changes);
    }
    attribute
}

fn schemas_of(state: &AppState, caller: &ScimCaller) -> Vec<Value> {
    let base = caller.base(state);
    let user = vec![
        with(
            attribute(
                "userName",
                "string",
                "The person's email address, which they sign in with",
            ),
            json!({"required": true, "uniqueness": "server"}),
        ),
        with(
            attribute("name", "complex", "The person's name"),
            json!({"subAttributes": [
                attribute("formatted", "string", "The full name"),
                with(attribute("givenName", "string", "Joined with familyName into the full name"), json!({"mutability": "writeOnly", "returned": "never"})),
                with(attribute("familyName", "string", "Joined with givenName into the full name"), json!({"mutability": "writeOnly", "returned": "never"})),
            ]}),
        ),
        attribute("displayName", "string", "The full name, as name.formatted"),
        with(
            attribute(
                "emails",
                "complex",
                "The email address, the same as userName",
            ),
            json!({"multiValued": true, "subAttributes": [
                attribute("value", "string", "The address"),
                attribute("type", "string", "Always work"),
                attribute("primary", "boolean", "Always true"),
            ]}),
        ),
        attribute("active", "boolean", "False while the person is blocked"),
        with(
            attribute(
                "groups",
                "complex",
                "The teams the person is in; changed through /Groups",
            ),
            json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                with(attribute("value", "string", "The team's id"), json!({"mutability": "readOnly"})),
                with(attribute("$ref", "reference", "The team's URI"), json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                with(attribute("display", "string", "The team's name"), json!({"mutability": "readOnly"})),
                with(attribute("type", "string", "Always direct"), json!({"mutability": "readOnly", "canonicalValues": ["direct"]})),
            ]}),
        ),
        with(
            attribute(
                "password",
                "string",
                "Set on creation; without one the person is invited by email",
            ),
            json!({"mutability": "writeOnly", "returned": "never"}),
        ),
    ];
    let group = vec![
        with(
            attribute("displayName", "string", "The team's name"),
            json!({"required": true, "uniqueness": "server"}),
        ),
        with(
            attribute("members", "complex", "The people in the team"),
            json!({"multiValued": true, "subAttributes": [
                with(attribute("value", "string", "The user's id"), json!({"mutability": "immutable"})),
                with(attribute("$ref", "reference", "The user's URI"), json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                with(attribute("type", "string", "Always User"), json!({"mutability": "immutable", "canonicalValues": ["User"]})),
            ]}),
        ),
    ];
    [
        (users::SCHEMA, "User", "A person of the organisation", user),
        (groups::SCHEMA, "Group", "A team of the organisation", group),
    ]
    .into_iter()
    .map(|(id, name, description, attributes)| {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
        })
    })
    .collect()
}

pub async fn schemas(State(state): State<AppState>, caller: ScimCaller) -> Response {
    list(schemas_of(&state, &caller))
}

pub async fn schema(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    one(schemas_of(&state, &caller), &id, "schema")
}

fn list(all: Vec<Value>) -> Response {
    let window = Window {
        start: 1,
        count: MAX_RESULTS,
    };
    let (total, page) = window.cut(all);
    window.answer(total, page)
}

fn one(all: Vec<Value>, id: &str, what: &str) -> Result<Response, ScimError> {
    all.into_iter()
        .find(|r| r["id"] == id)
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found(what))
}
