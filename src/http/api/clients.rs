//! `/clients`: the organisation's applications (OAuth clients): list, register (the secret in
//! the answer, this once), read, change, rotate the secret, disable, enable and delete.
//! `clients:manage` covers every client; `clients:manage_own` only those its holder registered,
//! which a key never did (a key has no person), so keys that manage clients need
//! `clients:manage`.

use super::problem::Refusals;
use super::{field_renamed, json_body, secret_answer, Caller, Problem};
use crate::admin::clients::{self, NewClient, Settings};
use crate::crypto::random_token;
use crate::domain::{
    Client, ExchangePolicy, GrantType, Invalid, RedirectUri, SigningAlg, Timestamp,
};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The grace period of the old secret when a rotation names none: a day, as on the command line.
const DEFAULT_GRACE_SECS: i64 = 86_400;

/// An application, without its secret. Names follow OAuth 2.0 Dynamic Client Registration
/// (RFC 7591 §2) where it has one. Times are RFC 3339, UTC.
#[derive(Serialize, ToSchema)]
pub struct ClientOut {
    client_id: String,
    client_name: String,
    /// `confidential` or `public`.
    client_type: String,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.
    token_endpoint_auth_method: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may ask tokens for.
    resources: Vec<String>,
    id_token_signed_response_alg: String,
    require_pkce: bool,
    require_consent: bool,
    /// RFC 9126: authorization requests must be pushed first.
    require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: token requests must carry a DPoP proof (sender-constrained tokens).
    dpop_bound_access_tokens: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    require_signed_request_object: bool,
    /// RFC 8693: what a token exchange may give the application.
    token_exchange: TokenExchange,
    access_token_ttl_secs: i64,
    refresh_token_ttl_secs: i64,
    logo_uri: Option<String>,
    backchannel_logout_uri: Option<String>,
    /// Its public keys (a JWK Set) for `private_key_jwt`.
    jwks: Option<serde_json::Value>,
    /// Until when the secret before the last rotation still works.
    previous_secret_expires_at: Option<String>,
    disabled: bool,
    created_at: String,
}

/// RFC 8693 §2.1: what a token exchange may give the application; empty lists allow nothing.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenExchange {
    /// The audiences (RFC 8707 resource URIs, absolute) the new tokens may be for; at most 50.
    #[serde(default)]
    audiences: Vec<String>,
    /// The scopes they may carry, never more than the exchanged token's; at most 50.
    #[serde(default)]
    scopes: Vec<String>,
}

impl From<&ExchangePolicy> for TokenExchange {
    fn from(policy: &ExchangePolicy) -> Self {
        Self {
            audiences: policy.audiences.clone(),
            scopes: policy.scopes.clone(),
        }
    }
}

impl From<TokenExchange> for ExchangePolicy {
    fn from(body: TokenExchange) -> Self {
        Self {
            audiences: body.audiences,
            scopes: body.scopes,
        }
    }
}

/// The management API names the policy's fields inside `token_exchange`.
fn exchange_fields(e: crate::error::AppError) -> crate::error::AppError {
    let e = field_renamed("exchange_audiences", "token_exchange")(e);
    field_renamed("exchange_scopes", "token_exchange")(e)
}

fn uris(list: &[RedirectUri]) -> Vec<String> {
    list.iter().map(|u| u.as_str().to_owned()).collect()
}

impl From<&Client> for ClientOut {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.client_id.clone(),
            client_name: client.name.clone(),
            client_type: client.client_type.as_str().to_owned(),
            token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
            redirect_uris: uris(&client.redirect_uris),
            post_logout_redirect_uris: uris(&client.post_logout_redirect_uris),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scopes: client.scopes.clone(),
            resources: client.resources.clone(),
            id_token_signed_response_alg: client.id_token_alg.as_str().to_owned(),
            require_pkce: client.require_pkce,
            require_consent: client.require_consent,
            require_pushed_authorization_requests: client.require_par,
            dpop_bound_access_tokens: client.require_dpop,
            require_dpop_nonce: client.require_dpop_nonce,
            require_signed_request_object: client.require_signed_request_object,
            token_exchange: TokenExchange::from(&client.exchange),
            access_token_ttl_secs: client.access_token_ttl_secs,
            refresh_token_ttl_secs: client.refresh_token_ttl_secs,
            logo_uri: client.logo_uri.clone(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            jwks: client
                .jwks
                .as_deref()
                .and_then(|raw| serde_json::from_str(raw).ok()),
            previous_secret_expires_at: client
                .previous_secret_expires_at
                .filter(|at| *at > Timestamp::now())
                .map(Timestamp::rfc3339),
            disabled: client.disabled,
            created_at: client.created_at.rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    data: Vec<ClientOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// 1 to 64 of `A-Z a-z 0-9 . _ - :`; generated when absent.
    #[serde(default)]
    client_id: Option<String>,
    client_name: String,
    /// Needed with the `authorization_code` grant.
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// `confidential` (the default) or `public`.
    #[serde(default)]
    client_type: Option<String>,
    /// `authorization_code` when absent.
    #[serde(default)]
    grant_types: Vec<String>,
    /// `openid profile email` when absent.
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    /// ES256 (the default), EdDSA or RS256.
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: token requests must carry a DPoP proof (sender-constrained tokens).
    #[serde(default)]
    dpop_bound_access_tokens: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    #[serde(default)]
    require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    #[serde(default)]
    require_signed_request_object: bool,
    /// RFC 8693: what a token exchange may give the application; nothing when absent.
    #[serde(default)]
    token_exchange: Option<TokenExchange>,
    /// Public keys (a JWK Set): the client then authenticates with `private_key_jwt` and gets
    /// no secret.
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    /// An https image shown beside the name on the consent page.
    #[serde(default)]
    logo_uri: Option<String>,
}

impl NewClientBody {
    fn into_new_client(self) -> Result<NewClient, Invalid> {
        let unprocessable = |field: &'static str, why: String| Invalid::new(why).on(field);
        let public = match self.client_type.as_deref() {
            None | Some("confidential") => false,
            Some("public") => true,
            Some(_) => {
                let why = "client_type is confidential or public.".to_owned();
                return Err(unprocessable("client_type", why));
            }
        };
        let grants = self
            .grant_types
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| {
                    unprocessable(
                        "grant_types",
                        format!("{g:?} is not a grant type Tessera has."),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let id_token_alg = match self.id_token_signed_response_alg.as_deref() {
            None => SigningAlg::DEFAULT,
            Some(raw) => SigningAlg::parse(raw).ok_or_else(|| {
                let why = "id_token_signed_response_alg is ES256, EdDSA or RS256.".to_owned();
                unprocessable("id_token_signed_response_alg", why)
            })?,
        };
        Ok(NewClient {
            client_id: self.client_id.unwrap_or_else(|| random_token(16)),
            name: self.client_name,
            redirect_uris: self.redirect_uris,
            public,
            grants,
            scopes: self.scopes,
            resources: self.resources,
            id_token_alg,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            require_par: self.require_pushed_authorization_requests,
            require_dpop: self.dpop_bound_access_tokens,
            require_dpop_nonce: self.require_dpop_nonce,
            require_signed_request_object: self.require_signed_request_object,
            exchange: self.token_exchange.map(Into::into).unwrap_or_default(),
            jwks: self.jwks.map(|set| set.to_string()),
            logo_uri: self.logo_uri,
            secret_method: None,
        })
    }
}

/// An application just registered: `client_secret` is in this answer only (absent for public
/// clients and those with keys).
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    client: ClientOut,
    client_secret: Option<String>,
}

/// A new secret: in this answer only. The old one works until `previous_secret_expires_at`.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    client_secret: String,
    previous_secret_expires_at: String,
}

/// The applications the caller may manage (`clients:manage`).
#[utoipa::path(get, path = "/clients", operation_id = "list_clients", tag = "clients",
    responses((status = 200, description = "The applications", body = ClientList), Refusals),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ClientList>, Problem> {
    let found = clients::list(&state, &caller.actor, &caller.tenant)
        .await
        .map_err(caller.refused())?;
    let data = found.iter().map(ClientOut::from).collect();
    Ok(Json(ClientList { data }))
}

/// Registers an application (`clients:manage`).
#[utoipa::path(post, path = "/clients", operation_id = "create_client", tag = "clients", request_body = NewClientBody,
    responses((status = 201, description = "Registered; the secret is in this answer only", body = CreatedClient), Refusals),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: NewClientBody = json_body(&body)?;
    let new = body
        .into_new_client()
        .map_err(|invalid| caller.refused()(invalid.into()))?;
    let (client, secret) = clients::create(&state, &caller.actor, &caller.tenant, new)
        .await
        .map_err(field_renamed("name", "client_name"))
        .map_err(exchange_fields)
        .map_err(caller.refused())?;
    let location = format!(
        "/t/{}/api/v1/clients/{}",
        caller.tenant.slug, client.client_id
    );
    let created = CreatedClient {
        client: ClientOut::from(&client),
        client_secret: secret,
    };
    Ok(secret_answer(StatusCode::CREATED, Some(location), created))
}

/// One application (`clients:manage`).
#[utoipa::path(get, path = "/clients/{client_id}", operation_id = "get_client", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The application", body = ClientOut), Refusals),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, client_id)): Path<(String, String)>,
) -> Result<Json<ClientOut>, Problem> {
    let client = clients::get(&state, &caller.actor, &caller.tenant, &client_id)
        .await
        .map_err(caller.refused())?;
    Ok(Json(ClientOut::from(&client)))
}

/// What a PATCH may change; the fields sent change, the others stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientChanges {
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    require_consent: Option<bool>,
    /// RFC 9449 §5.2: token requests must carry a DPoP proof (sender-constrained tokens).
    #[serde(default)]
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    #[serde(default)]
    require_dpop_nonce: Option<bool>,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    #[serde(default)]
    require_signed_request_object: Option<bool>,
    /// RFC 8693: replaces what a token exchange may give the application (a list left out
    /// is emptied).
    #[serde(default)]
    token_exchange: Option<TokenExchange>,
    #[serde(default)]
    access_token_ttl_secs: Option<i64>,
    #[serde(default)]
    refresh_token_ttl_secs: Option<i64>,
    /// An empty string removes the logo.
    #[serde(default)]
    logo_uri: Option<String>,
}

/// Changes an application (`clients:manage`).
#[utoipa::path(patch, path = "/clients/{client_id}", operation_id = "update_client", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    request_body = ClientChanges,
    responses((status = 200, description = "The application as changed", body = ClientOut), Refusals),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ClientOut>, Problem> {
    let changes: ClientChanges = json_body(&body)?;
    let (actor, tenant) = (&caller.actor, &caller.tenant);
    let client = clients::get(&state, actor, tenant, &client_id)
        .await
        .map_err(caller.refused())?;
    let settings = Settings {
        name: changes.client_name.unwrap_or(client.name.clone()),
        redirect_uris: changes
            .redirect_uris
            .unwrap_or_else(|| uris(&client.redirect_uris)),
        post_logout_redirect_uris: changes
            .post_logout_redirect_uris
            .unwrap_or_else(|| uris(&client.post_logout_redirect_uris)),
        scopes: changes.scopes.unwrap_or(client.scopes.clone()).join(" "),
        require_consent: changes.require_consent.unwrap_or(client.require_consent),
        require_dpop: changes
            .dpop_bound_access_tokens
            .unwrap_or(client.require_dpop),
        require_dpop_nonce: changes
            .require_dpop_nonce
            .unwrap_or(client.require_dpop_nonce),
        require_signed_request_object: changes
            .require_signed_request_object
            .unwrap_or(client.require_signed_request_object),
        exchange: changes
            .token_exchange
            .map_or_else(|| client.exchange.clone(), Into::into),
        access_token_ttl_secs: changes
            .access_token_ttl_secs
            .unwrap_or(client.access_token_ttl_secs),
        refresh_token_ttl_secs: changes
            .refresh_token_ttl_secs
            .unwrap_or(client.refresh_token_ttl_secs),
        logo_uri: changes
            .logo_uri
            .unwrap_or(client.logo_uri.clone().unwrap_or_default()),
    };
    let changed = clients::update(&state, actor, tenant, &client_id, settings)
        .await
        .map_err(field_renamed("name", "client_name"))
        .map_err(exchange_fields)
        .map_err(caller.refused())?;
    Ok(Json(ClientOut::from(&changed)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationBody {
    /// Seconds the old secret keeps working, 0 to 2592000 (30 days); a day when absent.
    #[serde(default)]
    grace_secs: Option<i64>,
}

/// Gives a secret client a new secret (`clients:manage`).
#[utoipa::path(post, path = "/clients/{client_id}/rotate-secret", operation_id = "rotate_client_secret", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    request_body = RotationBody,
    responses((status = 200, description = "The new secret, in this answer only", body = RotatedSecret), Refusals),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body: RotationBody = if body.is_empty() {
        RotationBody { grace_secs: None }
    } else {
        json_body(&body)?
    };
    let grace = body.grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    let secret = clients::rotate_secret(&state, &caller.actor, &caller.tenant, &client_id, grace)
        .await
        .map_err(field_renamed("grace", "grace_secs"))
        .map_err(caller.refused())?;
    let rotated = RotatedSecret {
        client_secret: secret,
        previous_secret_expires_at: Timestamp::now().plus_secs(grace).rfc3339(),
    };
    Ok(secret_answer(StatusCode::OK, None, rotated))
}

/// Stops the application getting tokens (`clients:manage`).
#[utoipa::path(post, path = "/clients/{client_id}/disable", operation_id = "disable_client", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The application, disabled", body = ClientOut), Refusals),
    security(("api_key" = [])))]
pub async fn disable(
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<ClientOut>, Problem> {
    set_disabled(state, caller, path, true).await
}

/// Lets a disabled application get tokens again (`clients:manage`).
#[utoipa::path(post, path = "/clients/{client_id}/enable", operation_id = "enable_client", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The application, enabled", body = ClientOut), Refusals),
    security(("api_key" = [])))]
pub async fn enable(
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<ClientOut>, Problem> {
    set_disabled(state, caller, path, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, client_id)): Path<(String, String)>,
    disabled: bool,
) -> Result<Json<ClientOut>, Problem> {
    let client = clients::set_disabled(&state, &caller.actor, &caller.tenant, &client_id, disabled)
        .await
        .map_err(caller.refused())?;
    Ok(Json(ClientOut::from(&client)))
}

/// Deletes an application (`clients:manage`); its tokens stop working.
#[utoipa::path(delete, path = "/clients/{client_id}", operation_id = "delete_client", tag = "clients", params(("client_id" = String, Path, description = "The client's id")),
    responses((status = 204, description = "Deleted"), Refusals),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    clients::delete(&state, &caller.actor, &caller.tenant, &client_id)
        .await
        .map_err(caller.refused())?;
    Ok(StatusCode::NO_CONTENT)
}
