//! The client registration endpoint (RFC 7591 §3) and the client configuration endpoint
//! (RFC 7592 §2): an application registers itself with JSON metadata, then reads, replaces
//! and deletes its registration with the registration access token it was given. What is
//! allowed and checked lives in `admin::dynamic_registration`; this module speaks the
//! protocol: JSON in and out, bearer tokens, and the error codes of RFC 7591 §3.2.2.

use super::error::OAuthError;
use super::tenant_by_slug;
use crate::admin::clients::NewClient;
use crate::admin::dynamic_registration::{self as registration, Refused, Registered};
use crate::domain::{
    Client, GrantType, Invalid, RequestMeta, SigningAlg, Tenant, TokenAuthMethod,
};
use crate::state::AppState;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// RFC 7591 §2 and OpenID Connect Dynamic Client Registration §2: the metadata Tessera
/// understands. Any other member is ignored (RFC 7591 §2: "MUST ignore any client metadata
/// … that it does not understand").
#[derive(Deserialize, Default)]
struct Metadata {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    application_type: Option<String>,
    post_logout_redirect_uris: Option<Vec<String>>,
    backchannel_logout_uri: Option<String>,
    id_token_signed_response_alg: Option<String>,
    /// RFC 9126 §6.
    require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2.
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 9101 §10.5.
    require_signed_request_object: Option<bool>,
    /// RFC 7592 §2.2: sent with a replacement, the client's own.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// RFC 7592 §2.2: these are the server's, never the client's to send.
    registration_access_token: Option<Value>,
    registration_client_uri: Option<Value>,
    client_secret_expires_at: Option<Value>,
    client_id_issued_at: Option<Value>,
}

/// What a self-registered application is called when it gives no name.
const UNNAMED: &str = "Unnamed application";

/// `POST {issuer}/register`.
pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tenant = match known_tenant(&state, &slug, &meta).await {
        Ok(tenant) => tenant,
        Err(e) => return e.into_response(),
    };
    let token = match bearer(&headers) {
        Ok(token) => token,
        Err(e) => return e.into_response(),
    };
    let metadata = match metadata(&headers, &body) {
        Ok(metadata) => metadata,
        Err(e) => return e.into_response(),
    };
    let new = match new_client(metadata, false) {
        Ok(new) => new,
        Err(invalid) => return metadata_refused(invalid).into_response(),
    };
    match registration::register(&state, &tenant, token.as_deref(), meta.clone(), new).await {
        Ok(registered) => answer(&state, &tenant, StatusCode::CREATED, registered),
        Err(refused) => refusal(&meta, refused).into_response(),
    }
}

/// `GET {issuer}/register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    match managed(&state, &slug, &client_id, &meta, &headers).await {
        Ok((tenant, client)) => {
            let registered = Registered {
                client,
                secret: None,
                registration_token: None,
            };
            answer(&state, &tenant, StatusCode::OK, registered)
        }
        Err(e) => e.into_response(),
    }
}

/// `PUT {issuer}/register/{client_id}` (RFC 7592 §2.2).
pub async fn replace(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (tenant, client) = match managed(&state, &slug, &client_id, &meta, &headers).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let metadata = match metadata(&headers, &body) {
        Ok(metadata) => metadata,
        Err(e) => return e.into_response(),
    };
    // §2.2: the request names the client it replaces, and never sets what the server sets.
    if metadata.client_id.as_deref() != Some(client.client_id.as_str()) {
        let why = Invalid::new("client_id must be sent, and be this application's.").on("client_id");
        return metadata_refused(why).into_response();
    }
    let secret = metadata.client_secret.clone();
    let new = match new_client(metadata, true) {
        Ok(new) => new,
        Err(invalid) => return metadata_refused(invalid).into_response(),
    };
    let replaced =
        registration::replace(&state, &tenant, client, secret.as_deref(), meta.clone(), new);
    match replaced.await {
        Ok(registered) => answer(&state, &tenant, StatusCode::OK, registered),
        Err(refused) => refusal(&meta, refused).into_response(),
    }
}

/// `DELETE {issuer}/register/{client_id}` (RFC 7592 §2.3).
pub async fn delete(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    let (tenant, client) = match managed(&state, &slug, &client_id, &meta, &headers).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    match registration::delete(&state, &tenant, &client, meta.clone()).await {
        Ok(()) => no_store(StatusCode::NO_CONTENT.into_response()),
        Err(refused) => refusal(&meta, refused).into_response(),
    }
}

async fn known_tenant(
    state: &AppState,
    slug: &str,
    meta: &RequestMeta,
) -> Result<std::sync::Arc<Tenant>, OAuthError> {
    tenant_by_slug(state, slug)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .ok_or_else(OAuthError::unknown_issuer)
}

/// The tenant and the application `client_id`, when the request carries its registration
/// access token. RFC 7592 §2.1: an unknown client is answered as a refused token is (401), so
/// nobody learns which client ids exist.
async fn managed(
    state: &AppState,
    slug: &str,
    client_id: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<(std::sync::Arc<Tenant>, Client), OAuthError> {
    let tenant = known_tenant(state, slug, meta).await?;
    let token = bearer(headers)?;
    let client = registration::authenticate(state, &tenant, client_id, token.as_deref(), meta)
        .await
        .map_err(|refused| refusal(meta, refused))?;
    Ok((tenant, client))
}

/// RFC 6750 §2.1: the bearer token of the `Authorization` header, if there is one.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .filter(|_| values.next().is_none())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("send one Authorization: Bearer header"))?;
    Ok(Some(token.to_owned()))
}

/// RFC 7591 §3.1: the body is one JSON object.
fn metadata(headers: &HeaderMap, body: &[u8]) -> Result<Metadata, OAuthError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        let why = "send the metadata as JSON (Content-Type: application/json)";
        return Err(invalid_metadata(why));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| invalid_metadata("the body is not JSON"))?;
    if !value.is_object() {
        return Err(invalid_metadata("the metadata must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| invalid_metadata(&format!("a member has the wrong type: {e}")))
}

/// The client `metadata` asks for, by the defaults of RFC 7591 §2 (`client_secret_basic`,
/// `authorization_code`, `code`). A `replacement` (RFC 7592 §2.2) must not send what the
/// server sets.
fn new_client(m: Metadata, replacement: bool) -> Result<NewClient, Invalid> {
    if !replacement && (m.client_id.is_some() || m.client_secret.is_some()) {
        let why = "client_id and client_secret are given by the server, not sent to it.";
        return Err(Invalid::new(why).on("client_id"));
    }
    let server_set = [
        ("registration_access_token", &m.registration_access_token),
        ("registration_client_uri", &m.registration_client_uri),
        ("client_secret_expires_at", &m.client_secret_expires_at),
        ("client_id_issued_at", &m.client_id_issued_at),
    ];
    if let Some((field, _)) = server_set.iter().find(|(_, v)| v.is_some()) {
        return Err(Invalid::new(format!("{field} is set by the server, not sent to it.")).on(field));
    }
    if m.jwks.is_some() && m.jwks_uri.is_some() {
        // RFC 7591 §2: "MUST NOT both be present".
        return Err(Invalid::new("Send jwks or jwks_uri, not both.").on("jwks_uri"));
    }
    if m.jwks_uri.is_some() {
        let why = "jwks_uri is not supported yet: send the keys themselves in jwks.";
        return Err(Invalid::new(why).on("jwks_uri"));
    }
    let method = match m.token_endpoint_auth_method.as_deref() {
        None if m.jwks.is_some() => TokenAuthMethod::PrivateKeyJwt,
        None => TokenAuthMethod::ClientSecretBasic,
        Some(raw) => TokenAuthMethod::parse(raw).ok_or_else(|| {
            let why = format!("{raw:?} is not one of client_secret_basic, client_secret_post, private_key_jwt and none.");
            Invalid::new(why).on("token_endpoint_auth_method")
        })?,
    };
    match (method, m.jwks.is_some()) {
        (TokenAuthMethod::PrivateKeyJwt, false) => {
            let why = "private_key_jwt needs the application's public keys in jwks.";
            return Err(Invalid::new(why).on("jwks"));
        }
        (TokenAuthMethod::PrivateKeyJwt, true) | (_, false) => {}
        (_, true) => {
            let why = "Keys in jwks go with token_endpoint_auth_method private_key_jwt.";
            return Err(Invalid::new(why).on("token_endpoint_auth_method"));
        }
    }
    let grants = match &m.grant_types {
        None => vec![GrantType::AuthorizationCode],
        Some(list) => list
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| {
                    Invalid::new(format!("{g:?} is not a grant type Tessera has.")).on("grant_types")
                })
            })
            .collect::<Result<_, _>>()?,
    };
    check_response_types(m.response_types.as_deref(), &grants)?;
    match m.application_type.as_deref() {
        None | Some("web") | Some("native") => {}
        Some(other) => {
            let why = format!("application_type is web or native, not {other:?}.");
            return Err(Invalid::new(why).on("application_type"));
        }
    }
    let id_token_alg = match m.id_token_signed_response_alg.as_deref() {
        None => SigningAlg::DEFAULT,
        Some(raw) => SigningAlg::parse(raw).ok_or_else(|| {
            let why = "id_token_signed_response_alg is ES256, EdDSA or RS256.";
            Invalid::new(why).on("id_token_signed_response_alg")
        })?,
    };
    let scopes = m
        .scope
        .as_deref()
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(NewClient {
        client_id: String::new(),
        name: m.client_name.unwrap_or_else(|| UNNAMED.to_owned()),
        redirect_uris: m.redirect_uris.unwrap_or_default(),
        public: method == TokenAuthMethod::None,
        grants,
        scopes,
        id_token_alg,
        post_logout_redirect_uris: m.post_logout_redirect_uris.unwrap_or_default(),
        backchannel_logout_uri: m.backchannel_logout_uri,
        require_par: m.require_pushed_authorization_requests.unwrap_or(false),
        require_dpop: m.dpop_bound_access_tokens.unwrap_or(false),
        require_signed_request_object: m.require_signed_request_object.unwrap_or(false),
        jwks: m.jwks.map(|set| set.to_string()),
        logo_uri: m.logo_uri,
        secret_method: Some(method).filter(|m| {
            matches!(m, TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost)
        }),
        ..NewClient::default()
    })
}

/// RFC 7591 §2.1: `response_types` agree with `grant_types`; Tessera answers with codes only.
fn check_response_types(asked: Option<&[String]>, grants: &[GrantType]) -> Result<(), Invalid> {
    let Some(types) = asked else {
        return Ok(());
    };
    let code_flow = grants.contains(&GrantType::AuthorizationCode);
    if let Some(other) = types.iter().find(|t| t.as_str() != "code") {
        let why = format!("Only the response type code is supported, not {other:?}.");
        return Err(Invalid::new(why).on("response_types"));
    }
    if code_flow != types.iter().any(|t| t == "code") {
        let why = "response_types code goes with grant_types authorization_code (RFC 7591 §2.1).";
        return Err(Invalid::new(why).on("response_types"));
    }
    Ok(())
}

/// RFC 7591 §3.2.1 and RFC 7592 §3: the registration as it stands, with the secrets of this
/// answer.
fn answer(state: &AppState, tenant: &Tenant, status: StatusCode, r: Registered) -> Response {
    let client = &r.client;
    let issuer = state.config.issuer(tenant.slug.as_str());
    let uris = |list: &[crate::domain::RedirectUri]| -> Vec<String> {
        list.iter().map(|u| u.as_str().to_owned()).collect()
    };
    let code_flow = client.grant_types.contains(&GrantType::AuthorizationCode);
    let mut body = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            body.insert(key.to_owned(), value);
        }
    };
    put("client_id", json!(client.client_id));
    put("client_id_issued_at", json!(client.created_at.unix()));
    if let Some(secret) = &r.secret {
        put("client_secret", json!(secret));
    }
    if client.secret_hash.is_some() {
        // Secrets do not expire; they are rotated.
        put("client_secret_expires_at", json!(0));
    }
    if let Some(token) = &r.registration_token {
        put("registration_access_token", json!(token));
    }
    put(
        "registration_client_uri",
        json!(format!("{issuer}/register/{}", client.client_id)),
    );
    put("client_name", json!(client.name));
    put("redirect_uris", json!(uris(&client.redirect_uris)));
    put("grant_types", json!(client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()));
    put("response_types", json!(if code_flow { vec!["code"] } else { vec![] }));
    put("token_endpoint_auth_method", json!(client.auth_method.as_str()));
    put("scope", json!(client.scopes.join(" ")));
    put("logo_uri", json!(client.logo_uri));
    put(
        "jwks",
        client
            .jwks
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or(Value::Null),
    );
    put("post_logout_redirect_uris", json!(uris(&client.post_logout_redirect_uris)));
    put("backchannel_logout_uri", json!(client.backchannel_logout_uri));
    put("id_token_signed_response_alg", json!(client.id_token_alg.as_str()));
    put("require_pushed_authorization_requests", json!(client.require_par));
    put("dpop_bound_access_tokens", json!(client.require_dpop));
    put("require_signed_request_object", json!(client.require_signed_request_object));
    no_store((status, Json(Value::Object(body))).into_response())
}

/// RFC 7591 §3.2.1: answers that carry credentials are not cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn refusal(meta: &RequestMeta, refused: Refused) -> OAuthError {
    match refused {
        Refused::Token => OAuthError::invalid_token("the access token is not valid"),
        Refused::Throttled => {
            let mut e = OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request",
                "too many registrations from this address; try again later",
            );
            e.retry_after = Some(registration::THROTTLE_RETRY_SECS);
            e
        }
        Refused::Metadata(invalid) => metadata_refused(invalid),
        Refused::Failed(e) => OAuthError::internal(meta, e),
    }
}

/// RFC 7591 §3.2.2: `invalid_redirect_uri` for a redirect URI, `invalid_client_metadata`
/// for any other field; the description names the field.
fn metadata_refused(invalid: Invalid) -> OAuthError {
    let field = invalid.field();
    let code = match field {
        Some("redirect_uris") => "invalid_redirect_uri",
        _ => "invalid_client_metadata",
    };
    let field = match field {
        Some("scopes") => Some("scope"),
        Some("name") => Some("client_name"),
        other => other,
    };
    let description = match field {
        Some(field) => format!("{field}: {}", invalid.message()),
        None => invalid.message().to_owned(),
    };
    OAuthError::new(StatusCode::BAD_REQUEST, code, description)
}

fn invalid_metadata(why: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", why)
}
