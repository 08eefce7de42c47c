//! The management REST API at `/t/{slug}/api/v1/`: other systems manage an organisation with
//! an API key (`Authorization: Bearer tsk_…`). Each endpoint calls the same `admin/` use case
//! as the console, so the permission checks are the console's; refusals are RFC 9457 problem
//! details.

mod access;
mod audit;
mod clients;
mod keys;
mod problem;
mod users;
mod webhooks;

use crate::admin::clients::acting_application;
use crate::admin::{api_keys, Actor};
use crate::domain::{Invalid, RequestMeta, Tenant, Timestamp};
use crate::error::AppError;
use crate::oidc::access_token::{self, Rejected};
use crate::oidc::dpop::{self, dpop_challenge, Expected};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
pub use problem::Problem;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{self, ServerBuilder};
use utoipa::{Modify, OpenApi};

const RATE_KIND: &str = "api_rate";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/api/v1/openapi.json", get(document))
        .route(
            "/t/{slug}/api/v1/users",
            get(users::list).post(users::create),
        )
        .route(
            "/t/{slug}/api/v1/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/t/{slug}/api/v1/users/{id}/block", post(users::block))
        .route("/t/{slug}/api/v1/users/{id}/unblock", post(users::unblock))
        .route(
            "/t/{slug}/api/v1/users/{id}/reset-factors",
            post(users::reset_factors),
        )
        .route(
            "/t/{slug}/api/v1/users/{id}/roles/{role}",
            put(access::assign).delete(access::unassign),
        )
        .route(
            "/t/{slug}/api/v1/roles",
            get(access::list_roles).post(access::create_role),
        )
        .route(
            "/t/{slug}/api/v1/roles/{id}",
            put(access::update_role).delete(access::delete_role),
        )
        .route(
            "/t/{slug}/api/v1/teams",
            get(access::list_teams).post(access::create_team),
        )
        .route(
            "/t/{slug}/api/v1/teams/{id}",
            put(access::update_team).delete(access::delete_team),
        )
        .route("/t/{slug}/api/v1/teams/{id}/members", get(access::members))
        .route(
            "/t/{slug}/api/v1/teams/{id}/members/{user}",
            put(access::add_member).delete(access::remove_member),
        )
        .route(
            "/t/{slug}/api/v1/api-keys",
            get(keys::list).post(keys::create),
        )
        .route("/t/{slug}/api/v1/api-keys/{id}", delete(keys::revoke))
        .route(
            "/t/{slug}/api/v1/clients",
            get(clients::list).post(clients::create),
        )
        .route(
            "/t/{slug}/api/v1/clients/{client_id}",
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route(
            "/t/{slug}/api/v1/clients/{client_id}/rotate-secret",
            post(clients::rotate_secret),
        )
        .route(
            "/t/{slug}/api/v1/clients/{client_id}/disable",
            post(clients::disable),
        )
        .route(
            "/t/{slug}/api/v1/clients/{client_id}/enable",
            post(clients::enable),
        )
        .route("/t/{slug}/api/v1/audit-events", get(audit::list))
        .route("/t/{slug}/api/v1/audit-events/export", get(audit::export))
        .route(
            "/t/{slug}/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/t/{slug}/api/v1/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/t/{slug}/api/v1/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/t/{slug}/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/t/{slug}/api/v1/webhooks/{id}/test", post(webhooks::test))
        .route(
            "/t/{slug}/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver),
        )
}

/// The API's description (OpenAPI 3.1), generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera management API",
        version = "1",
        description = "Manage one organisation with an API key. Errors are RFC 9457 problem details."
    ),
    paths(
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        users::block,
        users::unblock,
        users::reset_factors,
        access::assign,
        access::unassign,
        access::list_roles,
        access::create_role,
        access::update_role,
        access::delete_role,
        access::list_teams,
        access::create_team,
        access::update_team,
        access::delete_team,
        access::members,
        access::add_member,
        access::remove_member,
        keys::list,
        keys::create,
        keys::revoke,
        clients::list,
        clients::create,
        clients::get,
        clients::update,
        clients::rotate_secret,
        clients::disable,
        clients::enable,
        clients::delete,
        audit::list,
        audit::export,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::rotate_secret,
        webhooks::deliveries,
        webhooks::test,
        webhooks::redeliver
    ),
    components(schemas(problem::ProblemBody)),
    modifiers(&ApiKeys),
    tags(
        (name = "users", description = "The people of the organisation"),
        (name = "roles", description = "Custom roles, and who holds which role"),
        (name = "teams", description = "Teams: their members hold their roles"),
        (name = "api-keys", description = "Keys for other systems, each with its permissions"),
        (name = "clients", description = "Applications: OAuth 2.0 and OpenID Connect clients"),
        (name = "audit", description = "The audit log, read-only"),
        (name = "webhooks", description = "Endpoints that receive the organisation's events, signed (Standard Webhooks)")
    )
)]
struct ApiDoc;

/// The one way in: an API key as a bearer token.
struct ApiKeys;

impl Modify for ApiKeys {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key of the organisation (tsk_ and 43 more characters), or an access token \
                 of an application's client-credentials grant for this API (resource: this \
                 server's URL; scopes: tessera: and a permission, e.g. tessera:users:read)",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// `GET /t/{slug}/api/v1/openapi.json`: public, like discovery; its server is the organisation's
/// API.
async fn document(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match crate::oidc::any_tenant_by_slug(&state, &slug).await {
        Ok(Some(tenant)) => {
            let mut doc = ApiDoc::openapi();
            doc.servers = Some(vec![ServerBuilder::new()
                .url(api_base(&state, &tenant))
                .build()]);
            Json(doc).into_response()
        }
        Ok(None) => Problem::not_found("There is no such organisation.").into_response(),
        Err(e) => Problem::of(e, &RequestMeta::default()).into_response(),
    }
}

/// Who is calling: a key of the organisation named in the path, within its rate.
pub struct Caller {
    pub actor: Actor,
    pub tenant: Arc<Tenant>,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let meta = RequestMeta::from_parts(parts);
        let Ok(Path(params)) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await
        else {
            return Err(Problem::malformed("The path is not valid."));
        };
        let slug = params.get("slug").map(String::as_str).unwrap_or_default();
        let tenant = crate::oidc::any_tenant_by_slug(state, slug)
            .await
            .map_err(|e| Problem::of(e, &meta))?
            .ok_or_else(|| Problem::not_found("There is no such organisation."))?;
        if !tenant.accepts_sign_ins() {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "This organisation is suspended.",
            ));
        }
        // RFC 6750 §2.1 and RFC 9449 §7.1: the scheme is case-insensitive.
        let (scheme, presented) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop")
            })
            .map(|(scheme, key)| (scheme, key.trim()))
            .ok_or_else(|| {
                Problem::unauthenticated(
                    "Send an API key (tsk_…) or an access token as Authorization: Bearer …, or a DPoP-bound access token as Authorization: DPoP … with its proof",
                )
            })?;
        let proof = scheme.eq_ignore_ascii_case("dpop").then(|| Presented {
            method: parts.method.as_str(),
            url: format!(
                "{}{}",
                state.config.public_url.as_str().trim_end_matches('/'),
                parts.uri.path()
            ),
            headers: &parts.headers,
        });
        let actor = if presented.starts_with(crate::domain::api_key::PREFIX) {
            if proof.is_some() {
                return Err(Problem::unauthenticated(
                    "An API key is no DPoP-bound token: send it as Authorization: Bearer.",
                ));
            }
            match api_keys::authenticate(state, &tenant, presented, meta.clone()).await {
                Ok(actor) => actor,
                Err(api_keys::KeyRefused::Refused) => {
                    return Err(Problem::unauthenticated("The API key is not valid."))
                }
                Err(api_keys::KeyRefused::Failed(e)) => return Err(Problem::of(e, &meta)),
            }
        } else {
            application(state, &tenant, presented, proof, meta.clone()).await?
        };
        within_rate(state, &tenant, &actor, &meta).await?;
        Ok(Self {
            actor,
            tenant,
            meta,
        })
    }
}

/// An access token presented in the DPoP scheme (RFC 9449 §7.1), with what its proof must name.
struct Presented<'a> {
    method: &'a str,
    url: String,
    headers: &'a axum::http::HeaderMap,
}

/// The application whose client-credentials access token (RFC 9068) was presented: one for
/// this API (its audience, RFC 8707), of no user, unrevoked, from an application that is still
/// registered and enabled. A DPoP-bound token comes in the DPoP scheme with a proof of its key
/// for this request; an unbound one as a bearer token (RFC 9449 §7).
async fn application(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
    proof: Option<Presented<'_>>,
    meta: RequestMeta,
) -> Result<Actor, Problem> {
    let refused =
        |why: &str| Problem::unauthenticated(&format!("The access token is not valid: {why}."));
    let (claims, record) = match access_token::validate(state, tenant, token).await {
        Ok(valid) => valid,
        Err(Rejected::Invalid(why)) => return Err(refused(why)),
        Err(Rejected::Failed(e)) => return Err(Problem::of(e, &meta)),
    };
    let api = api_base(state, tenant);
    if !claims.aud.iter().any(|aud| aud == api) {
        return Err(refused(
            "its audience (the resource it was issued for) is not this API",
        ));
    }
    match (claims.bound_key(), proof) {
        (None, None) => {}
        // §7.2: a bound token is no bearer token.
        (Some(_), None) => {
            return Err(Problem::dpop(dpop_challenge(
                "invalid_token",
                "the token is bound to a DPoP key: present it with the DPoP scheme and a proof",
            )))
        }
        (None, Some(_)) => {
            return Err(refused(
                "it is not bound to a DPoP key: present it as Authorization: Bearer",
            ))
        }
        (Some(bound), Some(presented)) => {
            let nonce_required = state
                .store
                .clients
                .shared_by_client_id(tenant.id, &claims.client_id)
                .await
                .map_err(|e| Problem::of(e.into(), &meta))?
                .is_some_and(|client| client.require_dpop_nonce);
            let expected = Expected {
                method: presented.method,
                url: presented.url,
                access_token: Some(token),
                nonce_required,
            };
            let proven = dpop::proven_key(state, tenant, presented.headers, &expected)
                .await
                .map_err(|refused| Problem::dpop(refused.at_resource(state, tenant, &meta)))?;
            if proven.as_deref() != Some(bound) {
                return Err(Problem::dpop(dpop_challenge(
                    "invalid_dpop_proof",
                    "a proof of the key the token is bound to must come with it",
                )));
            }
        }
    }
    if record.user_id.is_some() {
        return Err(refused(
            "it was issued for a person; use the client-credentials grant",
        ));
    }
    acting_application(
        state,
        tenant,
        &claims.client_id,
        &record.scopes,
        meta.clone(),
    )
    .await
    .map_err(|e| Problem::of(e, &meta))?
    .ok_or_else(|| refused("the application is disabled or deleted"))
}

/// The API's own URL: the audience of the access tokens it accepts, and the server of its
/// description.
fn api_base(state: &AppState, tenant: &Tenant) -> String {
    format!("{}/api/v1", state.config.issuer(tenant.slug.as_str()))
}

impl Caller {
    /// Turns a use case's refusal into this request's answer.
    pub fn refused(&self) -> impl Fn(crate::error::AppError) -> Problem + '_ {
        |e| Problem::of(e, &self.meta)
    }
}

/// An id of this organisation's users; any other string is simply not found.
fn user_id(raw: &str) -> Result<crate::domain::UserId, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found("There is no such user here."))
}

/// Refuses a key past its requests of the current minute (`TESSERA_API_REQUESTS_PER_MINUTE`),
/// counted in the store, so every process of the installation shares the count.
async fn within_rate(
    state: &AppState,
    tenant: &Tenant,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<(), Problem> {
    let now = Timestamp::now().unix();
    let minute = now - now.rem_euclid(60);
    let key = format!("{}:{minute}", actor.audit_name());
    let count = state
        .store
        .artifacts
        .count_ephemeral(
            tenant.id,
            RATE_KIND,
            &key,
            Timestamp::from_unix(minute + 60),
        )
        .await
        .map_err(|e| Problem::of(e.into(), meta))?;
    if count > i64::try_from(state.config.api_requests_per_minute).unwrap_or(i64::MAX) {
        return Err(Problem::too_many(minute + 60 - now));
    }
    Ok(())
}

/// Renames the console's field `from` in a use case's refusal to the body's field `to`.
fn field_renamed(from: &'static str, to: &'static str) -> impl Fn(AppError) -> AppError {
    move |e| match e {
        AppError::Invalid(invalid) if invalid.field() == Some(from) => {
            AppError::Invalid(Invalid::new(invalid.message()).on(to))
        }
        other => other,
    }
}

/// An answer holding a secret: no cache keeps it (RFC 9111 §5.2.2.5).
fn secret_answer(status: StatusCode, location: Option<String>, body: impl Serialize) -> Response {
    let mut response = (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
    if let Some(location) = location.and_then(|l| header::HeaderValue::try_from(l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A JSON object as the request body, or the problem to answer instead. (An array is refused
/// too, though serde would read a struct from one.)
fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Problem> {
    let refused = |e: serde_json::Error| {
        Problem::malformed(format!(
            "The body is not the JSON this endpoint takes: {e}."
        ))
    };
    match serde_json::from_slice(body).map_err(refused)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object).map_err(refused),
        _ => Err(Problem::malformed("The body is a JSON object.")),
    }
}
