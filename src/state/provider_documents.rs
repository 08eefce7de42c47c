//! Upstream identity providers' discovery documents (OIDC Discovery §4) and JWK Sets, kept a
//! few minutes in each process; `auth::upstream` decides when to fetch them again.

use crate::domain::TenantId;
use moka::sync::Cache;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Keyed by tenant and URL: one tenant's connection never sees what another's fetched.
pub struct ProviderDocuments(Cache<(TenantId, String), Arc<Value>>);

impl Default for ProviderDocuments {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(1000)
                .time_to_live(Duration::from_secs(900))
                .build(),
        )
    }
}

impl ProviderDocuments {
    pub fn get(&self, tenant: TenantId, url: &str) -> Option<Arc<Value>> {
        self.0.get(&(tenant, url.to_owned()))
    }

    pub fn put(&self, tenant: TenantId, url: &str, document: Arc<Value>) {
        self.0.insert((tenant, url.to_owned()), document);
    }
}
