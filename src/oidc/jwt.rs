//! Signing and checking the tokens we issue: ID tokens (OIDC Core §2), JWT access tokens
//! (RFC 9068) and logout tokens, as JWS compact serialisations (RFC 7515 §7.1). The keys are
//! parsed once per load ([`TenantKeys`]), so a signature costs only the signature.

use crate::domain::{SigningAlg, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::keys::Registered;
use crate::state::keys::TenantKeys;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::sync::Arc;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Longer tokens are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 8192;

#[derive(Serialize, Deserialize)]
struct JoseHeader<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// Signs with the tenant's active key of `alg`.
pub fn sign<T: Serialize>(
    keys: &TenantKeys,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> AppResult<String> {
    let (kid, signer) = keys
        .signer(alg)
        .ok_or_else(|| AppError::internal(format!("no active {} key", alg.as_str())))?;
    let header = JoseHeader {
        alg: alg.as_str(),
        typ: Some(typ),
        kid: Some(kid),
    };
    let header = serde_json::to_vec(&header).map_err(AppError::internal)?;
    let payload = serde_json::to_vec(claims).map_err(AppError::internal)?;
    let mut token = String::with_capacity(2 * (header.len() + payload.len()) + 128);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signer.sign(token.as_bytes()).map_err(AppError::internal)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Checks the signature (by a published key of ours, with that key's algorithm), `typ`, `iss`
/// and `exp` of a token we issued.
pub fn verify<T: DeserializeOwned>(
    keys: &TenantKeys,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<T, &'static str> {
    let (payload, registered) = verified(keys, token, typ, issuer)?;
    match registered.exp {
        // RFC 7519 §4.1.4: not accepted on or after its expiry.
        Some(exp) if Timestamp::now().unix() < exp => {}
        Some(_) => return Err("the token has expired"),
        None => return Err("the token is invalid"),
    }
    serde_json::from_slice(&payload).map_err(|_| "the token is invalid")
}

/// As [`verify`], but an expired token is read too (OIDC RP-Initiated Logout §2: an
/// `id_token_hint` may have expired).
pub fn verify_ignoring_expiry<T: DeserializeOwned>(
    keys: &TenantKeys,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<T, &'static str> {
    let (payload, _) = verified(keys, token, typ, issuer)?;
    serde_json::from_slice(&payload).map_err(|_| "the token is invalid")
}

/// The payload of a token signed by one of our published keys, with `typ`, our `iss` and a `sub`.
/// A token that passed once is remembered while the keys are loaded: resource servers present
/// the same token again and again, and its signature cannot have changed.
fn verified(
    keys: &TenantKeys,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<(Arc<[u8]>, Registered), &'static str> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err("the token is too long");
    }
    let fingerprint = fingerprint(typ, token);
    if let Some(known) = keys.verified.get(&fingerprint) {
        return Ok(known);
    }
    let (payload, registered) = check(keys, token, typ, issuer)?;
    let known: (Arc<[u8]>, Registered) = (payload.into(), registered);
    keys.verified.insert(fingerprint, known.clone());
    Ok(known)
}

/// What a verified token is remembered by: the hash of the type it was checked for and of the
/// whole token (header, payload and signature).
fn fingerprint(typ: &str, token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(typ.as_bytes());
    hash.update(b"\0");
    hash.update(token.as_bytes());
    hash.finalize().into()
}

fn check(
    keys: &TenantKeys,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<(Vec<u8>, Registered), &'static str> {
    const MALFORMED: &str = "the token is malformed";
    const FOREIGN: &str = "the token was not signed by this issuer";
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| MALFORMED);
    let header_json = decode(header_b64)?;
    let header: JoseHeader = serde_json::from_slice(&header_json).map_err(|_| MALFORMED)?;
    // RFC 8725 §3.11: explicit typing keeps one kind of token from passing for another.
    if !header.typ.is_some_and(|t| t.eq_ignore_ascii_case(typ)) {
        return Err(if typ == ACCESS_TOKEN_TYP {
            "the token is not an access token"
        } else {
            "the token is of another type"
        });
    }
    let (alg, verifier) = header
        .kid
        .and_then(|kid| keys.verifier(kid))
        .ok_or(FOREIGN)?;
    // RFC 8725 §3.1: the key decides the algorithm, never the token's header.
    if header.alg != alg.as_str() {
        return Err(FOREIGN);
    }
    let signature = decode(signature_b64)?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !verifier.verify(signed.as_bytes(), &signature) {
        return Err("the token is invalid");
    }
    let payload = decode(payload_b64)?;
    let registered: Registered =
        serde_json::from_slice(&payload).map_err(|_| "the token is invalid")?;
    if registered.iss.as_deref() != Some(issuer) || registered.sub.is_none() {
        return Err("the token is invalid");
    }
    Ok((payload, registered))
}
