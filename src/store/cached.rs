//! In-process caches in front of what every protocol request reads and what rarely changes:
//! tenants by slug (their settings already parsed) and clients by id.
//!
//! A change made through this process invalidates its entry at once. Other processes sharing
//! the store (PostgreSQL, MongoDB, command-line tasks beside a SQLite server) see it when their
//! entry expires: every entry lives at most [`STALE_SECS`], so a suspended tenant, a disabled
//! client or a rotated secret takes effect everywhere within that bound. A short lifetime
//! rather than a change feed: it needs nothing from any backend, and one read per tenant and
//! client every few seconds costs nothing next to the reads it saves.

use super::{ClientRepo, StoreResult, TenantRepo};
use crate::domain::{Client, Tenant, TenantId, TenantSlug};
use async_trait::async_trait;
use moka::sync::Cache;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use std::time::Duration;

/// The longest another process may act on a tenant or client that has changed.
pub const STALE_SECS: u64 = 5;
/// Entries kept per cache; the least used go first beyond it.
const CAPACITY: u64 = 10_000;

fn cache<K, V>() -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(Duration::from_secs(STALE_SECS))
        .build()
}

/// Counts this process's changes, so that a read which began before a change never puts what
/// it read (now stale) into the cache after the change invalidated it.
#[derive(Default)]
struct Generation(AtomicU64);

impl Generation {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

pub struct CachedTenants {
    inner: Arc<dyn TenantRepo>,
    by_slug: Cache<TenantSlug, Arc<Tenant>>,
    generation: Generation,
}

impl CachedTenants {
    pub fn new(inner: Arc<dyn TenantRepo>) -> Self {
        Self {
            inner,
            by_slug: cache(),
            generation: Generation::default(),
        }
    }

    fn changed(&self) {
        self.generation.advance();
        // Tenant changes are rare (console and command line): dropping every entry is simplest.
        self.by_slug.invalidate_all();
    }
}

#[async_trait]
impl TenantRepo for CachedTenants {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
        let created = self.inner.create(tenant).await;
        self.changed();
        created
    }

    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        Ok(self.shared_by_slug(slug).await?.map(Arc::unwrap_or_clone))
    }

    async fn shared_by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Arc<Tenant>>> {
        if let Some(tenant) = self.by_slug.get(slug) {
            return Ok(Some(tenant));
        }
        let generation = self.generation.now();
        let found = self.inner.shared_by_slug(slug).await?;
        if let Some(tenant) = &found {
            if self.generation.now() == generation {
                self.by_slug.insert(slug.clone(), tenant.clone());
            }
        }
        Ok(found)
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.inner.by_id(id).await
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let updated = self.inner.update(tenant).await;
        self.changed();
        updated
    }

    async fn list(&self, after: Option<TenantId>, limit: u32) -> StoreResult<Vec<Tenant>> {
        self.inner.list(after, limit).await
    }

    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        let deleted = self.inner.delete(id).await;
        self.changed();
        deleted
    }
}

pub struct CachedClients {
    inner: Arc<dyn ClientRepo>,
    by_id: Cache<(TenantId, String), Arc<Client>>,
    generation: Generation,
}

impl CachedClients {
    pub fn new(inner: Arc<dyn ClientRepo>) -> Self {
        Self {
            inner,
            by_id: cache(),
            generation: Generation::default(),
        }
    }

    fn changed(&self, tenant: TenantId, client_id: &str) {
        self.generation.advance();
        self.by_id.invalidate(&(tenant, client_id.to_owned()));
    }
}

#[async_trait]
impl ClientRepo for CachedClients {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        let created = self.inner.create(tenant, client).await;
        self.changed(tenant, &client.client_id);
        created
    }

    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self
            .shared_by_client_id(tenant, client_id)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    async fn shared_by_client_id(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> StoreResult<Option<Arc<Client>>> {
        let key = (tenant, client_id.to_owned());
        if let Some(client) = self.by_id.get(&key) {
            return Ok(Some(client));
        }
        let generation = self.generation.now();
        let found = self.inner.shared_by_client_id(tenant, client_id).await?;
        if let Some(client) = &found {
            if self.generation.now() == generation {
                self.by_id.insert(key, client.clone());
            }
        }
        Ok(found)
    }

    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        let updated = self.inner.update(tenant, client).await;
        self.changed(tenant, &client.client_id);
        updated
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>> {
        self.inner.list(tenant).await
    }

    async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete(tenant, client_id).await;
        self.changed(tenant, client_id);
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::Access;

    #[tokio::test]
    async fn a_change_through_the_cache_is_seen_at_once_and_one_behind_its_back_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(&dir.path().join("t.db"), Access::Tool)
            .await
            .unwrap();
        sqlite.migrate().await.unwrap();
        let backend: Arc<SqliteStore> = Arc::new(sqlite);
        let cached = CachedTenants::new(backend.clone());
        let slug = TenantSlug::parse("acme").unwrap();
        let mut tenant = Tenant::new(slug.clone(), "Acme").unwrap();
        cached.create(&tenant).await.unwrap();
        assert_eq!(cached.by_slug(&slug).await.unwrap().unwrap().name, "Acme");

        tenant.name = "Acme Ltd".into();
        cached.update(&tenant).await.unwrap();
        assert_eq!(
            cached.by_slug(&slug).await.unwrap().unwrap().name,
            "Acme Ltd"
        );

        // Another process's change (straight to the backend) shows once the entry expires.
        tenant.name = "Acme Group".into();
        TenantRepo::update(&*backend, &tenant).await.unwrap();
        assert_eq!(
            cached.by_slug(&slug).await.unwrap().unwrap().name,
            "Acme Ltd"
        );
        tokio::time::sleep(Duration::from_secs(STALE_SECS) + Duration::from_millis(200)).await;
        assert_eq!(
            cached.by_slug(&slug).await.unwrap().unwrap().name,
            "Acme Group"
        );
    }
}
