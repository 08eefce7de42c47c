//! DPoP (RFC 9449): with each request a client proves that it holds the private key its tokens
//! are bound to. The proof is a JWT in the `DPoP` header, checked as §4.3 lists; a bound token
//! carries the key's thumbprint as `cnf.jkt` (§6.1). Server nonces (§8) are sealed timestamps:
//! every process of an installation makes and opens them with the configured encryption key,
//! so none is stored and any process accepts another's.

use super::client_auth::{algorithm_name, ASSERTION_ALGS};
use super::error::OAuthError;
use crate::crypto::{sha256_b64url, sha256_hex};
use crate::domain::{RequestMeta, Tenant, Timestamp};
use crate::state::AppState;
use crate::store::StoreError;
use axum::http::{HeaderMap, StatusCode};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// What proofs may be signed with: asymmetric algorithms only (§4.2), the ones client
/// assertions may use.
pub const ALGS: [&str; 5] = ASSERTION_ALGS;
/// A proof is fresh this long after its `iat` (§4.3 step 11), and the `jti`s of fresh proofs
/// are remembered, so a replay is refused (§11.1).
const PROOF_LIFETIME_SECS: i64 = 60;
/// How far ahead of our clock a client's may run.
const CLOCK_SKEW_SECS: i64 = 10;
/// How long a nonce of ours is accepted after it was made.
const NONCE_LIFETIME_SECS: i64 = 300;
/// A proof carries its public key: an RSA one of 4096 bits fits with room to spare.
const MAX_PROOF_LEN: usize = 8192;
/// The members of a JWK that hold private key material (RFC 7517 §9.2; RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The request a proof must be made for.
pub struct Expected<'a> {
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// The endpoint's URL (`htu`), without query or fragment.
    pub url: String,
    /// At a protected resource, the access token presented with the proof (`ath`, §4.3 step 12).
    pub access_token: Option<&'a str>,
    /// The client must use a nonce of ours (§8).
    pub nonce_required: bool,
}

/// Why a proof is not accepted.
#[derive(Debug)]
pub enum Refused {
    /// `invalid_dpop_proof`, with a reason safe to send back.
    Invalid(&'static str),
    /// `use_dpop_nonce` (§8): the proof lacks a nonce of ours, or its nonce is stale.
    UseNonce,
    Failed(StoreError),
}

/// The thumbprint (RFC 7638, SHA-256) of the key that signed the request's DPoP proof, when
/// it carries one and the proof holds; `None` without a `DPoP` header.
pub async fn proven_key(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    expected: &Expected<'_>,
) -> Result<Option<String>, Refused> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // §4.3 step 1: one proof per request.
    if values.next().is_some() {
        return Err(Refused::Invalid("send one DPoP proof, not several"));
    }
    let proof = value
        .to_str()
        .ok()
        .filter(|p| p.len() <= MAX_PROOF_LEN)
        .ok_or(Refused::Invalid("the DPoP proof is malformed or too long"))?;
    let now = Timestamp::now();
    let checked = check(proof, expected, now)?;
    if let Some(nonce) = &checked.nonce {
        if !nonce_is_fresh(state, tenant, nonce, now) {
            return Err(Refused::UseNonce);
        }
    } else if expected.nonce_required {
        return Err(Refused::UseNonce);
    }
    // Remembered while the proof is fresh: the same proof again is a replay (§11.1).
    let marker = format!("{}:{}", checked.jkt, sha256_hex(&checked.jti));
    let forget_at =
        Timestamp::from_unix(checked.iat).plus_secs(PROOF_LIFETIME_SECS + CLOCK_SKEW_SECS);
    match state
        .store
        .artifacts
        .put_ephemeral(tenant.id, "dpop-proof", &marker, "{}", forget_at)
        .await
    {
        Ok(()) => Ok(Some(checked.jkt)),
        Err(StoreError::Conflict(_)) => Err(Refused::Invalid("the DPoP proof was used before")),
        Err(e) => Err(Refused::Failed(e)),
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: Option<String>,
    nonce: Option<String>,
}

/// A proof whose signature and claims hold, before its nonce and `jti` are checked.
struct Checked {
    jkt: String,
    jti: String,
    iat: i64,
    nonce: Option<String>,
}

/// §4.3 steps 2 to 12, except the nonce and replay checks, which need the store.
fn check(proof: &str, expected: &Expected<'_>, now: Timestamp) -> Result<Checked, Refused> {
    let malformed = Refused::Invalid("the DPoP proof is malformed");
    let raw_header: Value = proof
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(malformed)?;
    if raw_header["typ"] != "dpop+jwt" {
        return Err(Refused::Invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let jwk = raw_header["jwk"]
        .as_object()
        .ok_or(Refused::Invalid("the DPoP proof carries no jwk"))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(Refused::Invalid("the DPoP proof's jwk is not a public key"));
    }
    let jkt = thumbprint(&raw_header["jwk"]).ok_or(Refused::Invalid(
        "the DPoP proof's jwk is not an EC, RSA or OKP public key",
    ))?;
    let header = jsonwebtoken::decode_header(proof)
        .map_err(|_| Refused::Invalid("the DPoP proof is malformed"))?;
    if !ALGS.contains(&algorithm_name(header.alg)) {
        return Err(Refused::Invalid(
            "the DPoP proof's algorithm is not accepted",
        ));
    }
    let key: Jwk = serde_json::from_value(raw_header["jwk"].clone())
        .map_err(|_| Refused::Invalid("the DPoP proof's jwk is unusable"))?;
    let key = DecodingKey::from_jwk(&key)
        .map_err(|_| Refused::Invalid("the DPoP proof's jwk is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|_| Refused::Invalid("the DPoP proof's signature or claims are invalid"))?
        .claims;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(Refused::Invalid("the DPoP proof has no usable jti"));
    }
    if claims.htm != expected.method {
        return Err(Refused::Invalid(
            "the DPoP proof is for another HTTP method",
        ));
    }
    if !same_target(&claims.htu, &expected.url) {
        return Err(Refused::Invalid("the DPoP proof is for another URL"));
    }
    let earliest = now.plus_secs(-PROOF_LIFETIME_SECS).unix();
    let latest = now.plus_secs(CLOCK_SKEW_SECS).unix();
    if !(earliest..=latest).contains(&claims.iat) {
        return Err(Refused::Invalid(
            "the DPoP proof is too old, or dated in the future",
        ));
    }
    if let Some(token) = expected.access_token {
        if claims.ath.as_deref() != Some(sha256_b64url(token.as_bytes()).as_str()) {
            return Err(Refused::Invalid(
                "the DPoP proof's ath does not match the access token",
            ));
        }
    }
    Ok(Checked {
        jkt,
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}

/// §4.3 step 9: `htu` names the endpoint, whatever its query and fragment; the URLs are
/// compared as parsed, so a differently written but equal scheme, host or port still matches.
fn same_target(htu: &str, url: &str) -> bool {
    let without_query = |raw: &str| {
        Url::parse(raw).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    matches!((without_query(htu), without_query(url)), (Some(a), Some(b)) if a == b)
}

/// RFC 7638 §3: SHA-256 over the key's required members, in lexicographic order, without
/// whitespace.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let member =
        |name: &str| -> Option<String> { jwk[name].as_str().map(|v| Value::from(v).to_string()) };
    let canonical = match jwk["kty"].as_str()? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return None,
    };
    Some(sha256_b64url(canonical.as_bytes()))
}

/// A fresh nonce of this server for `tenant`'s clients (§8).
pub fn new_nonce(state: &AppState, tenant: &Tenant) -> String {
    let now = Timestamp::now().unix().to_be_bytes();
    URL_SAFE_NO_PAD.encode(state.secrets.seal(&now, &nonce_context(tenant)))
}

fn nonce_is_fresh(state: &AppState, tenant: &Tenant, nonce: &str, now: Timestamp) -> bool {
    let made = URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()
        .and_then(|sealed| state.secrets.open(&sealed, &nonce_context(tenant)).ok())
        .and_then(|plain| <[u8; 8]>::try_from(plain).ok())
        .map(i64::from_be_bytes);
    made.is_some_and(|made| {
        (now.plus_secs(-NONCE_LIFETIME_SECS).unix()..=now.plus_secs(CLOCK_SKEW_SECS).unix())
            .contains(&made)
    })
}

/// A nonce made for one tenant's clients is no use at another's.
fn nonce_context(tenant: &Tenant) -> String {
    format!("dpop-nonce:{}", tenant.id)
}

impl Refused {
    /// The answer of the token endpoint (§5.1): a 400 with `invalid_dpop_proof`, or
    /// `use_dpop_nonce` with a nonce to use.
    pub fn at_token_endpoint(
        self,
        state: &AppState,
        tenant: &Tenant,
        meta: &RequestMeta,
    ) -> OAuthError {
        match self {
            Self::Invalid(why) => {
                OAuthError::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why)
            }
            Self::UseNonce => {
                let mut e = OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "use_dpop_nonce",
                    "the DPoP proof must carry the nonce this server provides",
                );
                e.dpop_nonce = Some(new_nonce(state, tenant));
                e
            }
            Self::Failed(e) => OAuthError::internal(meta, e),
        }
    }

    /// The answer of a protected resource (§7.1, §9): a 401 with a `DPoP` challenge.
    pub fn at_resource(self, state: &AppState, tenant: &Tenant, meta: &RequestMeta) -> OAuthError {
        match self {
            Self::Invalid(why) => dpop_challenge("invalid_dpop_proof", why),
            Self::UseNonce => {
                let mut e = dpop_challenge(
                    "use_dpop_nonce",
                    "the DPoP proof must carry the nonce this server provides",
                );
                e.dpop_nonce = Some(new_nonce(state, tenant));
                e
            }
            Self::Failed(e) => OAuthError::internal(meta, e),
        }
    }
}

/// A 401 whose `WWW-Authenticate` names the DPoP scheme and the algorithms it takes (§7.1).
pub fn dpop_challenge(code: &'static str, why: &str) -> OAuthError {
    let mut e = OAuthError::new(StatusCode::UNAUTHORIZED, code, why);
    e.challenge = Some(format!(
        "DPoP error=\"{code}\", error_description=\"{why}\", algs=\"{}\"",
        ALGS.join(" ")
    ));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thumbprints_match_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "AAAA"})), None);
    }

    #[test]
    fn htu_ignores_query_and_fragment_only() {
        let url = "https://id.example/t/acme/token";
        assert!(same_target("https://id.example/t/acme/token?x=1#f", url));
        assert!(same_target("HTTPS://ID.EXAMPLE:443/t/acme/token", url));
        assert!(!same_target("https://id.example/t/acme/userinfo", url));
        assert!(!same_target("https://id.example/t/other/token", url));
        assert!(!same_target("http://id.example/t/acme/token", url));
        assert!(!same_target("not a url", url));
    }
}
