//! Client authentication at the token, introspection, revocation, PAR and device endpoints
//! (RFC 6749 §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523) and `none` for public clients. One method per request, and the
//! one the client registered (a secret client may use either secret method).

use super::client_keys::{client_key, Unverifiable};
use super::{any_tenant_by_slug, error::OAuthError, form_params};
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Client, ClientType, Outcome, Tenant, Timestamp, TokenAuthMethod};
use crate::state::AppState;
use crate::store::StoreError;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::{engine::general_purpose::STANDARD, Engine};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use std::{collections::HashMap, sync::Arc};

/// RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Client assertions are one-time credentials; a longer-lived one would need a longer replay
/// memory.
const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;
/// What `private_key_jwt` assertions may be signed with (never `none` or a shared secret).
pub const ASSERTION_ALGS: [&str; 5] = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];

/// A client's form POST to one of the client endpoints, with the client authenticated.
pub struct ClientRequest {
    pub tenant: Arc<Tenant>,
    pub client: Arc<Client>,
    pub params: HashMap<String, String>,
}

/// Authenticates a client's request to the endpoint `{issuer}/{endpoint}`.
pub async fn client_request(
    state: &AppState,
    slug: &str,
    endpoint: &str,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &str,
) -> Result<ClientRequest, OAuthError> {
    let tenant = any_tenant_by_slug(state, slug)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .ok_or_else(OAuthError::unknown_issuer)?;
    if !tenant.accepts_sign_ins() {
        return Err(OAuthError::tenant_suspended());
    }
    let params = form_params(headers, body)?;
    let presented = Presented::from_request(headers, &params)?;
    let client_id = presented.client_id().to_owned();
    let used_basic = matches!(presented, Presented::Basic { .. });
    let client = state
        .store
        .clients
        .shared_by_client_id(tenant.id, &client_id)
        .await
        .map_err(|e| OAuthError::internal(meta, e))?
        .filter(|c| !c.disabled);
    let refusal = match &client {
        None => Some(Refusal::from("unknown client")),
        Some(client) => {
            let issuer = state.config.issuer(tenant.slug.as_str());
            let audiences = [issuer.clone(), format!("{issuer}/{endpoint}")];
            check(state, &tenant, client, &presented, &audiences)
                .await
                .err()
        }
    };
    match (client, refusal) {
        (Some(client), None) => Ok(ClientRequest {
            tenant,
            client,
            params,
        }),
        (_, Some(Refusal::Failed(e))) => Err(OAuthError::internal(meta, e)),
        (_, refusal) => {
            let reason = match refusal {
                Some(Refusal::Because(why)) => why,
                _ => "unknown client".into(),
            };
            let event = AuditEvent::new(
                tenant.id,
                "client.authentication",
                Outcome::Failure,
                format!("client:{client_id}"),
            )
            .reason(reason);
            state.audit(event, meta).await;
            Err(OAuthError::invalid_client(used_basic))
        }
    }
}

/// The credentials a request carries.
enum Presented {
    Basic { client_id: String, secret: String },
    Post { client_id: String, secret: String },
    Assertion { client_id: String, jwt: String },
    Nothing { client_id: String },
}

impl Presented {
    fn from_request(
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<Self, OAuthError> {
        let two = || OAuthError::invalid_request("use one client authentication method, not two");
        let basic = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                Some(parse_basic(value).ok_or_else(|| OAuthError::invalid_client(true))?)
            }
        };
        let body_id = params.get("client_id").cloned();
        let secret = params.get("client_secret").cloned();
        let assertion = match (
            params.get("client_assertion_type"),
            params.get("client_assertion"),
        ) {
            (None, None) => None,
            (Some(kind), Some(jwt)) if kind == JWT_BEARER => Some(jwt.clone()),
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ))
            }
            _ => {
                return Err(OAuthError::invalid_request(
                    "client_assertion and client_assertion_type go together",
                ))
            }
        };
        let mismatch =
            || OAuthError::invalid_request("client_id does not match the authenticated client");
        match (basic, secret, assertion) {
            (Some((client_id, secret)), None, None) => {
                if body_id.is_some_and(|id| id != client_id) {
                    return Err(mismatch());
                }
                Ok(Self::Basic { client_id, secret })
            }
            (None, Some(secret), None) => Ok(Self::Post {
                client_id: body_id.ok_or_else(|| OAuthError::invalid_client(false))?,
                secret,
            }),
            (None, None, Some(jwt)) => {
                // RFC 7523 §3: the client is the assertion's subject.
                let subject =
                    unverified_subject(&jwt).ok_or_else(|| OAuthError::invalid_client(false))?;
                if body_id.is_some_and(|id| id != subject) {
                    return Err(mismatch());
                }
                Ok(Self::Assertion {
                    client_id: subject,
                    jwt,
                })
            }
            (None, None, None) => Ok(Self::Nothing {
                client_id: body_id.ok_or_else(|| OAuthError::invalid_client(false))?,
            }),
            _ => Err(two()),
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::Assertion { client_id, .. }
            | Self::Nothing { client_id } => client_id,
        }
    }
}

enum Refusal {
    Because(String),
    Failed(StoreError),
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        Self::Because(why.to_owned())
    }
}

impl From<Unverifiable> for Refusal {
    fn from(refused: Unverifiable) -> Self {
        match refused {
            Unverifiable::Because(why) => why.into(),
            Unverifiable::Failed(e) => Self::Failed(e),
        }
    }
}

async fn check(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    presented: &Presented,
    audiences: &[String],
) -> Result<(), Refusal> {
    match (client.auth_method, presented) {
        (
            TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost,
            Presented::Basic { secret, .. } | Presented::Post { secret, .. },
        ) if client.client_type == ClientType::Confidential => {
            if secret_matches(client, secret, Timestamp::now()) {
                Ok(())
            } else {
                Err("wrong secret".into())
            }
        }
        (TokenAuthMethod::PrivateKeyJwt, Presented::Assertion { jwt, .. }) => {
            verify_assertion(state, tenant, client, jwt, audiences).await
        }
        (TokenAuthMethod::None, Presented::Nothing { .. })
            if client.client_type == ClientType::Public =>
        {
            Ok(())
        }
        _ => Err(Refusal::Because(format!(
            "the client is registered for {}",
            client.auth_method.as_str()
        ))),
    }
}

/// The current secret, or the previous one during its grace period; compared in constant time.
fn secret_matches(client: &Client, secret: &str, now: Timestamp) -> bool {
    let presented = sha256_hex(secret);
    let current = client
        .secret_hash
        .as_deref()
        .is_some_and(|hash| constant_time_eq(&presented, hash));
    let previous = match (
        &client.previous_secret_hash,
        client.previous_secret_expires_at,
    ) {
        (Some(hash), Some(until)) => now.is_before(until) && constant_time_eq(&presented, hash),
        _ => false,
    };
    current | previous
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    jti: String,
    exp: i64,
}

/// The `sub` of an assertion, read before its signature is checked: only to find the client
/// whose keys will check it.
fn unverified_subject(jwt: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = jwt.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// RFC 7523 §3 and OIDC Core §9: signed by one of the client's registered keys, `iss` and `sub`
/// are the client, `aud` is this server, short-lived, and its `jti` never seen before.
async fn verify_assertion(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    jwt: &str,
    audiences: &[String],
) -> Result<(), Refusal> {
    if jwt.len() > 8192 {
        return Err("the assertion is too long".into());
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "the assertion is malformed")?;
    if !ASSERTION_ALGS.contains(&algorithm_name(header.alg)) {
        return Err("the assertion's algorithm is not accepted".into());
    }
    let key = client_key(state, tenant, client, &header).await?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 5;
    let claims = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &validation)
        .map_err(|_| "the assertion's signature or claims are invalid")?
        .claims;
    let now = Timestamp::now();
    if claims.sub != client.client_id || claims.iss != client.client_id {
        return Err("the assertion is not about this client".into());
    }
    if claims.exp > now.plus_secs(MAX_ASSERTION_LIFETIME_SECS).unix() {
        return Err("the assertion lives too long".into());
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err("the assertion has no usable jti".into());
    }
    // Remembered until it expires: a replay within its lifetime is refused.
    let marker = format!("{}:{}", client.client_id, sha256_hex(&claims.jti));
    match state
        .store
        .artifacts
        .put_ephemeral(
            tenant.id,
            "client-assertion",
            &marker,
            "{}",
            Timestamp::from_unix(claims.exp).plus_secs(5),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err("the assertion was used before (replay)".into()),
        Err(e) => Err(Refusal::Failed(e)),
    }
}

pub(super) fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::PS256 => "PS256",
        Algorithm::EdDSA => "EdDSA",
        _ => "other",
    }
}

fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| form_urlencoded_decode(s);
    Some((unescape(id)?, unescape(secret)?))
}

fn form_urlencoded_decode(s: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}
