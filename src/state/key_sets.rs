//! Clients' JWK Sets fetched from their `jwks_uri` (RFC 7591 §2), or why the last fetch
//! failed, kept a few minutes in each process; `oidc::client_keys` decides when to fetch.

use crate::domain::TenantId;
use jsonwebtoken::jwk::JwkSet;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// A client's keys as last fetched, or why they could not be (for the log).
pub type Fetched = Arc<Result<JwkSet, String>>;

/// Keyed by tenant, client and URL, so that a client registered again elsewhere starts afresh.
pub struct KeySets(Cache<(TenantId, String, String), Fetched>);

impl Default for KeySets {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(1000)
                .time_to_live(Duration::from_secs(300))
                .build(),
        )
    }
}

impl KeySets {
    pub fn get(&self, tenant: TenantId, client_id: &str, uri: &str) -> Option<Fetched> {
        self.0.get(&(tenant, client_id.to_owned(), uri.to_owned()))
    }

    pub fn put(&self, tenant: TenantId, client_id: &str, uri: &str, fetched: Fetched) {
        self.0
            .insert((tenant, client_id.to_owned(), uri.to_owned()), fetched);
    }
}
