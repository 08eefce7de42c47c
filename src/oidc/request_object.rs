//! Signed authorization requests (JAR, RFC 9101): the parameters of an authorization request
//! as the claims of a JWT the client signed with one of its registered keys, sent by value in
//! `request`, at `/authorize` or pushed to `/par`, or by reference in `request_uri` (§5.2) at
//! `/authorize`. Its parameters replace every other one (§6.3), so nothing in the request can
//! be changed on the way through the browser.

use super::client_auth::{algorithm_name, ASSERTION_ALGS};
use super::client_keys::{client_key, Unverifiable};
use crate::crypto::sha256_hex;
use crate::domain::{Client, Tenant, Timestamp};
use crate::state::AppState;
use crate::store::StoreError;
use jsonwebtoken::Validation;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// A request object is a one-time message: one that lives longer would need a longer replay
/// memory (FAPI 2.0 allows 60 minutes).
const MAX_LIFETIME_SECS: i64 = 3600;
/// What a request object may carry; a large `claims` request fits well within it.
const MAX_LEN: usize = 16 * 1024;
/// RFC 9101 §5.2: what a request object by reference is served as (any other type is taken too).
const MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";
/// Claims of the JWT itself rather than parameters of the request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// Why a request object is not accepted.
pub enum Refused {
    /// `invalid_request_object` (RFC 9101 §6.3), with a reason safe to show.
    Invalid(&'static str),
    Failed(StoreError),
}

impl From<&'static str> for Refused {
    fn from(why: &'static str) -> Self {
        Self::Invalid(why)
    }
}

impl From<Unverifiable> for Refused {
    fn from(refused: Unverifiable) -> Self {
        match refused {
            Unverifiable::Because(why) => Self::Invalid(why),
            Unverifiable::Failed(e) => Self::Failed(e),
        }
    }
}

/// The parameters of the request object in `params` (RFC 9101 §6.3: only those count, with
/// the `client_id` they were sent with), or `None` when the request carries none.
pub async fn unpack(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    params: &HashMap<String, String>,
) -> Result<Option<HashMap<String, String>>, Refused> {
    let jwt = match (params.get("request"), params.get("request_uri")) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err("send request or request_uri, not both".into()),
        (Some(jwt), None) => Cow::Borrowed(jwt),
        (None, Some(uri)) => Cow::Owned(fetch(state, tenant, client, uri).await?),
    };
    let jwt = jwt.as_ref();
    if jwt.len() > MAX_LEN {
        return Err("the request object is too long".into());
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "the request object is malformed")?;
    // §10.2: never `none`, never a shared secret.
    if !ASSERTION_ALGS.contains(&algorithm_name(header.alg)) {
        return Err("the request object's algorithm is not accepted".into());
    }
    let key = client_key(state, tenant, client, &header).await?;
    let issuer = state.config.issuer(tenant.slug.as_str());
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[issuer.as_str()]);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(jwt, &key, &validation)
        .map_err(|_| "the request object's signature or claims are invalid")?
        .claims;
    let now = Timestamp::now();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    if exp > now.plus_secs(MAX_LIFETIME_SECS).unix() {
        return Err("the request object lives too long".into());
    }
    // §5: the client_id inside, when there, is the one outside.
    if claims
        .get("client_id")
        .is_some_and(|id| id.as_str() != Some(&client.client_id))
    {
        return Err("the request object's client_id is another client's".into());
    }
    // §4: a request object holds no further request objects.
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err("a request object cannot hold request or request_uri".into());
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        remember(state, tenant, client, jti, exp).await?;
    }
    let mut unpacked: HashMap<String, String> = claims
        .into_iter()
        .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                // `max_age` is a number and `claims` an object: their text is the parameter.
                other => other.to_string(),
            };
            (name, text)
        })
        .collect();
    unpacked.insert("client_id".into(), client.client_id.clone());
    Ok(Some(unpacked))
}

/// The request object at `uri` (RFC 9101 §5.2), fetched through the SSRF guard; why it could
/// not be is logged, never shown. Only a client with keys may send one, since only its signed
/// request objects count: the URL is any https URL (RFC 9101 §10.4.1 would have clients
/// register theirs), and the guard keeps the fetch out of Tessera's own network.
async fn fetch(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    uri: &str,
) -> Result<String, Refused> {
    if client.jwks.is_none() && client.jwks_uri.is_none() {
        return Err("the client has no keys to sign a request object with".into());
    }
    let fetched = state
        .fetcher
        .get(uri, MEDIA_TYPE)
        .await
        .and_then(|body| String::from_utf8(body).map_err(|_| "not UTF-8".to_owned()));
    match fetched {
        Ok(jwt) => Ok(jwt.trim().to_owned()),
        Err(why) => {
            tracing::warn!(
                tenant = %tenant.slug, client = %client.client_id, request_uri = %uri,
                reason = %why, "a request object could not be fetched"
            );
            Err("the request_uri could not be fetched".into())
        }
    }
}

/// A request object with a `jti` works once (RFC 9101 §10.4 leaves replay to the server).
async fn remember(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    jti: &str,
    exp: i64,
) -> Result<(), Refused> {
    let marker = format!("{}:{}", client.client_id, sha256_hex(jti));
    let forget_at = Timestamp::from_unix(exp).plus_secs(5);
    match state
        .store
        .artifacts
        .put_ephemeral(tenant.id, "request-object", &marker, "{}", forget_at)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err("the request object was used before".into()),
        Err(e) => Err(Refused::Failed(e)),
    }
}
