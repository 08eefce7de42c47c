//! Signing and checking the tokens we issue: ID tokens (OIDC Core §2) and JWT access tokens
//! (RFC 9068).

use super::keys::TenantKeys;
use crate::crypto::signing;
use crate::domain::SigningAlg;
use crate::error::{AppError, AppResult};
use jsonwebtoken::{Header, Validation};
use serde::{de::DeserializeOwned, Serialize};

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Signs with the tenant's active key of `alg`.
pub fn sign<T: Serialize>(
    keys: &TenantKeys,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> AppResult<String> {
    let (kid, key) = keys
        .signer(alg)
        .ok_or_else(|| AppError::internal(format!("no active {} key", alg.as_str())))?;
    let mut header = Header::new(signing::algorithm(alg));
    header.kid = Some(kid.to_owned());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, key).map_err(AppError::internal)
}

/// Checks the signature (by a published key of ours, with that key's algorithm), `typ`, `iss`
/// and `exp` of a token we issued.
pub fn verify<T: DeserializeOwned>(
    keys: &TenantKeys,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<T, &'static str> {
    if token.len() > 8192 {
        return Err("the token is too long");
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| "the token is malformed")?;
    if header
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
        != Some(typ)
    {
        return Err("the token is not an access token");
    }
    let (alg, key) = header
        .kid
        .as_deref()
        .and_then(|kid| keys.verifier(kid))
        .ok_or("the token was not signed by this issuer")?;
    // RFC 8725 §3.1: the key decides the algorithm, never the token's header.
    let algorithm = signing::algorithm(alg);
    if header.alg != algorithm {
        return Err("the token was not signed by this issuer");
    }
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<T>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
            _ => "the token is invalid",
        })
}
