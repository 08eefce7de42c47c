//! Talking to a connection's provider: its endpoints (from the OIDC discovery document, or
//! configured for OAuth 2), the code redemption (RFC 6749 §4.1.3, RFC 7636 §4.5), the ID token's
//! checks (OIDC Core §3.1.3.7) and the userinfo answer. Every request goes through the SSRF
//! guard (`state::outbound`).

use super::UpstreamError;
use crate::crypto::{constant_time_eq, signing};
use crate::domain::{Connection, Preset, Protocol, Tenant, Timestamp};
use crate::state::AppState;
use crate::store::StoreError;
use base64::Engine;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Signed-JWT algorithms an ID token may use; never `none` nor a MAC (OIDC Core §3.1.3.7 #6-8
/// allows HS256 keyed with the client secret, which Tessera does not accept).
const ID_TOKEN_ALGS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Clock difference tolerated with the provider.
const LEEWAY_SECS: u64 = 60;
/// An unknown key makes Tessera fetch the provider's keys again, at most this often.
const REFETCH_AFTER_SECS: i64 = 30;
const REFETCHED: &str = "upstream-jwks-refetch";
/// GitHub's list of a person's addresses, with which is verified (its user API omits that).
const GITHUB_EMAILS: &str = "https://api.github.com/user/emails";

/// Where a connection's provider answers.
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    /// RFC 9207 §3: the provider puts `iss` in every authorization response.
    pub sends_iss: bool,
    /// Whether the provider takes the client secret in HTTP Basic (RFC 6749 §2.3.1, the
    /// default of OIDC Discovery §3) or only in the form.
    pub basic_auth: bool,
}

/// The person as the provider describes them, after the connection's claim mapping.
#[derive(Debug, Serialize, Deserialize)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// The provider's endpoints: configured (OAuth 2), or from its discovery document, whose
/// `issuer` must be the configured one (OIDC Discovery §4.3).
pub async fn endpoints(
    state: &AppState,
    tenant: &Tenant,
    connection: &Connection,
) -> Result<Endpoints, UpstreamError> {
    let issuer = match &connection.protocol {
        Protocol::OAuth2 {
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
        } => {
            return Ok(Endpoints {
                authorization: authorization_endpoint.clone(),
                token: token_endpoint.clone(),
                userinfo: Some(userinfo_endpoint.clone()),
                jwks: None,
                sends_iss: false,
                basic_auth: false,
            })
        }
        Protocol::Oidc { issuer } => issuer,
        // A SAML provider has no OAuth endpoints: `super::saml` talks to it.
        Protocol::Saml { .. } => return Err(UpstreamError::Unknown),
    };
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document = document(state, tenant, &url, false).await?;
    if document["issuer"].as_str() != Some(issuer.as_str()) {
        return Err(UpstreamError::Unavailable(format!(
            "the discovery document at {url} names another issuer"
        )));
    }
    let text = |name: &str| document[name].as_str().map(str::to_owned);
    let required = |name: &str| {
        text(name).ok_or_else(|| {
            UpstreamError::Unavailable(format!("the discovery document has no {name}"))
        })
    };
    let methods = document["token_endpoint_auth_methods_supported"].as_array();
    Ok(Endpoints {
        authorization: required("authorization_endpoint")?,
        token: required("token_endpoint")?,
        userinfo: text("userinfo_endpoint"),
        jwks: Some(required("jwks_uri")?),
        sends_iss: document["authorization_response_iss_parameter_supported"] == true,
        basic_auth: methods.is_none_or(|m| m.iter().any(|v| v == "client_secret_basic")),
    })
}

/// A JSON document of the provider, kept a few minutes; `fresh` fetches it again.
async fn document(
    state: &AppState,
    tenant: &Tenant,
    url: &str,
    fresh: bool,
) -> Result<Arc<Value>, UpstreamError> {
    if !fresh {
        if let Some(kept) = state.provider_documents.get(tenant.id, url) {
            return Ok(kept);
        }
    }
    let body = state
        .fetcher
        .get(url, "application/json")
        .await
        .map_err(|why| UpstreamError::Unavailable(format!("{url}: {why}")))?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| UpstreamError::Unavailable(format!("{url} did not answer JSON")))?;
    let value = Arc::new(value);
    state.provider_documents.put(tenant.id, url, value.clone());
    Ok(value)
}

/// What the token endpoint answered for the code.
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
}

/// Redeems the code with the PKCE verifier and the client's credentials.
pub async fn redeem(
    state: &AppState,
    connection: &Connection,
    secret: Option<&str>,
    endpoints: &Endpoints,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<Tokens, UpstreamError> {
    let client = state
        .fetcher
        .client_for(&endpoints.token)
        .map_err(UpstreamError::Unavailable)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut request = client
        .post(&endpoints.token)
        .header(reqwest::header::ACCEPT, "application/json");
    match secret {
        Some(secret) if endpoints.basic_auth => {
            // RFC 6749 §2.3.1: both parts form-encoded before Base64.
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(&connection.client_id), encode(secret));
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        Some(secret) => {
            form.push(("client_id", &connection.client_id));
            form.push(("client_secret", secret));
        }
        None => form.push(("client_id", &connection.client_id)),
    }
    let (status, body) = state
        .fetcher
        .send(request.form(&form))
        .await
        .map_err(UpstreamError::Unavailable)?;
    let answer: Value = serde_json::from_slice(&body).map_err(|_| {
        UpstreamError::Unavailable(format!("the token endpoint answered {status} without JSON"))
    })?;
    // GitHub answers errors with 200.
    if let Some(error) = answer["error"].as_str() {
        return Err(UpstreamError::Invalid(format!(
            "the token endpoint refused the code: {error}"
        )));
    }
    let access_token = answer["access_token"]
        .as_str()
        .filter(|_| status.is_success())
        .ok_or_else(|| {
            UpstreamError::Unavailable(format!("the token endpoint answered {status}"))
        })?;
    Ok(Tokens {
        access_token: access_token.to_owned(),
        id_token: answer["id_token"].as_str().map(str::to_owned),
    })
}

/// The claims of an ID token after every check of OIDC Core §3.1.3.7: a signature by one of
/// the provider's keys, `iss`, `aud` (and `azp`), `exp`, `iat` and the `nonce` of this request.
pub async fn verify_id_token(
    state: &AppState,
    tenant: &Tenant,
    connection: &Connection,
    endpoints: &Endpoints,
    id_token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let invalid = |why: &str| UpstreamError::Invalid(format!("ID token: {why}"));
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| invalid("not a JWT"))?;
    if !ID_TOKEN_ALGS.contains(&header.alg) {
        return Err(invalid("signed with an algorithm Tessera does not accept"));
    }
    let (Some(issuer), Some(jwks)) = (connection.protocol.issuer(), endpoints.jwks.as_deref())
    else {
        return Err(invalid("the connection is not OpenID Connect"));
    };
    let key = signing_key(state, tenant, jwks, header.kid.as_deref()).await?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[&connection.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECS;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| invalid(&e.to_string()))?
        .claims;
    let audiences = match &claims["aud"] {
        Value::Array(many) => many.len(),
        _ => 1,
    };
    let azp = claims.get("azp").and_then(Value::as_str);
    if (audiences > 1 || azp.is_some()) && azp != Some(connection.client_id.as_str()) {
        return Err(invalid("issued to another party (azp)"));
    }
    let now = Timestamp::now().unix();
    if claims["iat"]
        .as_i64()
        .is_none_or(|iat| iat > now + LEEWAY_SECS as i64)
    {
        return Err(invalid("issued in the future"));
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(got) if constant_time_eq(got, nonce) => Ok(claims),
        _ => Err(invalid("its nonce is not this sign-in's")),
    }
}

/// The provider's key named `kid`, fetching its keys again when they lack it (but at most
/// every 30 seconds across processes: anyone can make up a `kid`).
async fn signing_key(
    state: &AppState,
    tenant: &Tenant,
    jwks: &str,
    kid: Option<&str>,
) -> Result<jsonwebtoken::DecodingKey, UpstreamError> {
    let mut set = document(state, tenant, jwks, false).await?;
    if find(&set, kid).is_none() && may_refetch(state, tenant, jwks).await? {
        set = document(state, tenant, jwks, true).await?;
    }
    let key = find(&set, kid).ok_or_else(|| {
        UpstreamError::Invalid("ID token: signed by a key the provider does not publish".into())
    })?;
    signing::decoding_key(key)
        .map_err(|why| UpstreamError::Unavailable(format!("the provider's key: {why}")))
}

fn find<'a>(set: &'a Value, kid: Option<&str>) -> Option<&'a Value> {
    let keys = set["keys"].as_array()?;
    let signing = keys.iter().filter(|k| k["use"] != "enc");
    match kid {
        Some(kid) => signing.into_iter().find(|k| k["kid"] == kid),
        None => {
            let mut only = signing;
            only.next().filter(|_| only.next().is_none())
        }
    }
}

async fn may_refetch(state: &AppState, tenant: &Tenant, jwks: &str) -> Result<bool, UpstreamError> {
    let until = Timestamp::now().plus_secs(REFETCH_AFTER_SECS);
    let key = crate::crypto::sha256_hex(jwks);
    match state
        .store
        .artifacts
        .put_ephemeral(tenant.id, REFETCHED, &key, "{}", until)
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(UpstreamError::Login(e.into())),
    }
}

/// What the userinfo endpoint answers for the access token (OIDC Core §5.3, or an OAuth 2
/// provider's user API).
pub async fn userinfo(
    state: &AppState,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let answer = bearer_get(state, url, access_token).await?;
    match answer {
        Value::Object(claims) => Ok(claims),
        _ => Err(UpstreamError::Unavailable(format!(
            "{url} did not answer an object"
        ))),
    }
}

async fn bearer_get(
    state: &AppState,
    url: &str,
    access_token: &str,
) -> Result<Value, UpstreamError> {
    let client = state
        .fetcher
        .client_for(url)
        .map_err(UpstreamError::Unavailable)?;
    let request = client
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json");
    let (status, body) = state
        .fetcher
        .send(request)
        .await
        .map_err(UpstreamError::Unavailable)?;
    if !status.is_success() {
        return Err(UpstreamError::Unavailable(format!(
            "{url} answered {status}"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|_| UpstreamError::Unavailable(format!("{url} did not answer JSON")))
}

/// GitHub's primary address, if verified; its user API gives only the public one.
pub async fn github_email(
    state: &AppState,
    access_token: &str,
) -> Result<Option<String>, UpstreamError> {
    let answer = bearer_get(state, GITHUB_EMAILS, access_token).await?;
    let primary = answer.as_array().and_then(|all| {
        all.iter()
            .find(|e| e["primary"] == true && e["verified"] == true)
    });
    Ok(primary.and_then(|e| e["email"].as_str()).map(str::to_owned))
}

/// The identity in `claims` under the connection's mapping. A subject may be a number (GitHub's
/// user id); an `email_verified` may be the string "true" (some providers).
pub fn identity(
    connection: &Connection,
    claims: &Map<String, Value>,
) -> Result<Identity, UpstreamError> {
    let mapping = &connection.claims;
    let text = |name: &str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let subject = text(&mapping.subject)
        .filter(|s| s.len() <= 255)
        .ok_or_else(|| {
            UpstreamError::Invalid(format!("the provider sent no {:?} claim", mapping.subject))
        })?;
    let verified = match claims.get(&mapping.email_verified) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Ok(Identity {
        subject,
        email: text(&mapping.email),
        email_verified: verified,
        name: text(&mapping.name).or_else(|| {
            (connection.preset == Preset::GitHub)
                .then(|| text("login"))
                .flatten()
        }),
    })
}
