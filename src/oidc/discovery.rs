//! OpenID Provider metadata (OIDC Discovery §3, RFC 8414 §2) and the JWK Set. Advertises only
//! what is implemented.

use super::{client_auth::ASSERTION_ALGS, scopes::CLAIMS_SUPPORTED, tenant_by_slug};
use crate::crypto::sha256_b64url;
use crate::domain::RequestMeta;
use crate::domain::{Client, SigningAlg, TenantSlug};
use crate::state::keys::TenantKeys;
use crate::state::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use moka::sync::Cache;
use serde_json::{json, Value};
use std::sync::LazyLock;

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "error_description": "unknown issuer" })),
    )
        .into_response()
}

fn server_error(request: &Request, e: impl super::error::Fault) -> Response {
    let meta = RequestMeta::from_head(request.headers(), request.extensions());
    super::error::OAuthError::internal(&meta, e).into_response()
}

pub fn metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "end_session_endpoint": format!("{issuer}/logout"),
        // RFC 7591 §3; whether an initial access token is needed is the tenant's policy.
        "registration_endpoint": format!("{issuer}/register"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "require_pushed_authorization_requests": false,
        "scopes_supported": Client::KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "acr_values_supported": crate::domain::acr::SUPPORTED,
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": super::dpop::ALGS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        // RFC 9101: request objects by value, at /authorize and pushed to /par.
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ASSERTION_ALGS,
        // request_uri is for pushed requests only (RFC 9126), not request objects by reference.
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// A document that changes rarely, serialised once: its bytes and entity tag.
#[derive(Clone)]
struct Document {
    body: Bytes,
    etag: HeaderValue,
}

impl Document {
    fn of(value: &Value) -> Self {
        let body = serde_json::to_vec(value).expect("plain data serialises");
        let etag = format!("\"{}\"", sha256_b64url(&body));
        Self {
            etag: HeaderValue::from_str(&etag).expect("a quoted base64url hash is a header value"),
            body: body.into(),
        }
    }

    /// The document, or 304 when the client holds this version (RFC 9110 §13.1.2), with caching
    /// allowed for five minutes.
    fn serve(&self, request: &HeaderMap) -> Response {
        let mut response = if holds(request, &self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                self.body.clone(),
            )
                .into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        response
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn holds(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag)
}

/// The metadata is a function of the issuer alone: serialised once per issuer and process.
static METADATA: LazyLock<Cache<String, Document>> =
    LazyLock::new(|| Cache::builder().max_capacity(10_000).build());

fn metadata_document(issuer: &str) -> Document {
    METADATA.get_with_by_ref(issuer, || Document::of(&metadata(issuer)))
}

impl From<&TenantKeys> for Document {
    fn from(keys: &TenantKeys) -> Self {
        Self {
            body: keys.jwks.clone(),
            etag: keys.jwks_etag.clone(),
        }
    }
}

/// The documents a tenant publishes at fixed paths.
enum Published {
    Metadata,
    Jwks,
}

/// The tenant slug and document that `path` names, and the route that names it, as
/// `http::router` spells them (undecoded: a slug with percent escapes is no slug, and goes the
/// long way).
fn published_path(path: &str) -> Option<(&str, Published, &'static str)> {
    if let Some(slug) = path.strip_prefix("/.well-known/oauth-authorization-server/t/") {
        return Some((
            slug,
            Published::Metadata,
            "/.well-known/oauth-authorization-server/t/{slug}",
        ));
    }
    let (slug, document) = path.strip_prefix("/t/")?.split_once('/')?;
    match document {
        ".well-known/openid-configuration" => Some((
            slug,
            Published::Metadata,
            "/t/{slug}/.well-known/openid-configuration",
        )),
        "jwks" => Some((slug, Published::Jwks, "/t/{slug}/jwks")),
        _ => None,
    }
}

/// Discovery or the JWK Set, and the route that serves it, when this process holds everything
/// the answer needs (the tenant, its fresh keys) in memory; `None` for any other request, and
/// for one that needs the store, which the handlers below then answer (and so fill the
/// caches). `http::documents` serves these ahead of the middleware: they are the most
/// requested and cheapest answers there are.
pub fn from_memory(state: &AppState, request: &Request) -> Option<(Response, &'static str)> {
    if request.method() != Method::GET {
        return None;
    }
    let (slug, published, route) = published_path(request.uri().path())?;
    let slug = TenantSlug::parse(slug).ok()?;
    let tenant = state
        .store
        .tenants
        .in_memory_by_slug(&slug)
        .filter(|t| t.accepts_sign_ins())?;
    let document = match published {
        Published::Metadata => metadata_document(&state.config.issuer(tenant.slug.as_str())),
        Published::Jwks => Document::from(&*state.keys.fresh(tenant.id)?),
    };
    Some((document.serve(request.headers()), route))
}

pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    // The request itself, not a `HeaderMap` (which axum would copy) for `If-None-Match`.
    request: Request,
) -> Response {
    match tenant_by_slug(&state, &slug).await {
        Ok(Some(tenant)) => {
            metadata_document(&state.config.issuer(tenant.slug.as_str())).serve(request.headers())
        }
        Ok(None) => not_found(),
        Err(e) => server_error(&request, e),
    }
}

pub async fn jwks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let tenant = match tenant_by_slug(&state, &slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return server_error(&request, e),
    };
    match state.keys.for_tenant(tenant.id).await {
        Ok(keys) => Document::from(&*keys).serve(request.headers()),
        Err(e) => server_error(&request, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_published_paths_name_a_document() {
        // The route, with the slug put in, is the path itself (the metrics label of its route).
        let named = |path| {
            published_path(path).map(|(slug, p, route)| {
                assert_eq!(route.replace("{slug}", slug), path);
                (slug, matches!(p, Published::Jwks))
            })
        };
        assert_eq!(named("/t/acme/jwks"), Some(("acme", true)));
        assert_eq!(
            named("/t/acme/.well-known/openid-configuration"),
            Some(("acme", false))
        );
        assert_eq!(
            named("/.well-known/oauth-authorization-server/t/acme"),
            Some(("acme", false))
        );
        for other in [
            "/t/acme/token",
            "/t/acme/jwks/",
            "/t/acme/x/jwks",
            "/t/acme",
            "/jwks",
            "/t//jwks",
        ] {
            let found = named(other);
            assert!(
                found.is_none_or(|(slug, _)| TenantSlug::parse(slug).is_err()),
                "{other}: {found:?}"
            );
        }
    }
}
