//! The public key that signed a client's JWT (a `private_key_jwt` assertion, RFC 7523, or a
//! request object, RFC 9101): from the JWK Set the client registered (`jwks`), or from the one
//! it publishes at its `jwks_uri` (RFC 7591 §2), fetched through the SSRF guard and kept a few
//! minutes (`state::key_sets`). A JWT naming a key the kept set lacks means the client rotated
//! its keys, so the set is fetched again; but at most once per client every 30 seconds across
//! all processes (a marker in the store), since anyone can send JWTs naming unknown keys.

use crate::crypto::signing;
use crate::domain::{Client, Tenant, Timestamp};
use crate::state::{key_sets::Fetched, AppState};
use crate::store::StoreError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Header};
use std::sync::Arc;

const REFETCH_AFTER_SECS: i64 = 30;
/// The store's marker of a recent fetch prompted by an unknown key.
const REFETCHED: &str = "jwks-refetch";
/// RFC 7517 §8.5, and plain JSON as most servers label it.
const ACCEPT: &str = "application/jwk-set+json, application/json";

/// Why no key of the client checks a JWT.
pub enum Unverifiable {
    /// A reason safe to show the client (the details of a failed fetch are only logged).
    Because(&'static str),
    Failed(StoreError),
}

/// The key of `client` that signed a JWT with `header`: the one its `kid` names, or the only
/// one.
pub async fn client_key(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    header: &Header,
) -> Result<DecodingKey, Unverifiable> {
    let Some(uri) = client.jwks_uri.as_deref() else {
        let jwks: JwkSet = client
            .jwks
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or(Unverifiable::Because("the client has no usable keys"))?;
        return key_of(&jwks, header);
    };
    let fetched = match state.key_sets.get(tenant.id, &client.client_id, uri) {
        Some(kept)
            if kept
                .as_ref()
                .as_ref()
                .is_ok_and(|set| find(set, header).is_some()) =>
        {
            kept
        }
        Some(kept) if !may_refetch(state, tenant, client).await? => kept,
        _ => fetch(state, tenant, client, uri).await,
    };
    match fetched.as_ref() {
        Ok(set) => key_of(set, header),
        Err(_) => Err(Unverifiable::Because(
            "the client's keys could not be fetched from its jwks_uri",
        )),
    }
}

fn find<'a>(set: &'a JwkSet, header: &Header) -> Option<&'a Jwk> {
    match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

fn key_of(set: &JwkSet, header: &Header) -> Result<DecodingKey, Unverifiable> {
    let unusable = Unverifiable::Because("the registered key is unusable");
    let jwk = find(set, header).ok_or(Unverifiable::Because(
        "no registered key matches the signature",
    ))?;
    let Ok(key) = serde_json::to_value(jwk) else {
        return Err(unusable);
    };
    signing::decoding_key(&key).map_err(|_| unusable)
}

/// Whether this process may fetch the client's keys again now: the first to ask in 30
/// seconds, of all processes.
async fn may_refetch(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
) -> Result<bool, Unverifiable> {
    let until = Timestamp::now().plus_secs(REFETCH_AFTER_SECS);
    let marked = state
        .store
        .artifacts
        .put_ephemeral(tenant.id, REFETCHED, &client.client_id, "{}", until)
        .await;
    match marked {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(Unverifiable::Failed(e)),
    }
}

/// The client's keys from `uri`, held to the rules of registered ones, kept whether or not
/// the fetch worked (a failure, so that the next JWT does not fetch at once).
async fn fetch(state: &AppState, tenant: &Tenant, client: &Client, uri: &str) -> Fetched {
    let fetched = state.fetcher.get(uri, ACCEPT).await.and_then(|body| {
        let text = String::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
        let set = signing::public_key_set(&text)?;
        serde_json::from_str::<JwkSet>(&set).map_err(|e| e.to_string())
    });
    if let Err(why) = &fetched {
        tracing::warn!(
            tenant = %tenant.slug, client = %client.client_id, jwks_uri = %uri, reason = %why,
            "a client's keys could not be fetched"
        );
    }
    let fetched = Arc::new(fetched);
    state
        .key_sets
        .put(tenant.id, &client.client_id, uri, fetched.clone());
    fetched
}
