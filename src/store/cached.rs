//! In-process caches in front of what every protocol request reads and what rarely changes:
//! tenants by slug (their settings already parsed), clients by id, users by id (userinfo
//! and the refresh grant read the token's user on every call), and each tenant's connections
//! (every sign-in page shows their buttons).
//!
//! A change made through this process invalidates its entry at once. Other processes sharing
//! the store (PostgreSQL, MongoDB, command-line tasks beside a SQLite server) see it when their
//! entry expires: every entry lives at most [`STALE_SECS`], so a suspended tenant, a disabled
//! client, a rotated secret or a blocked user takes effect everywhere within that bound. A short
//! lifetime rather than a change feed: it needs nothing from any backend, and one read per
//! entry every few seconds costs nothing next to the reads it saves.

use super::{ClientRepo, ConnectionRepo, StoreResult, TenantRepo, UserQuery, UserRepo};
use crate::domain::{
    Client, Connection, LinkedIdentity, Placement, Tenant, TenantId, TenantSlug, Timestamp, User,
    UserId,
};
use async_trait::async_trait;
use moka::sync::Cache;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use std::time::Duration;

/// The longest another process may act on a tenant, client or user that has changed.
pub const STALE_SECS: u64 = 5;
/// Entries kept per cache; the least used go first beyond it.
const CAPACITY: u64 = 10_000;

/// Entries read through from the store, each kept at most [`STALE_SECS`].
struct ReadThrough<K, V> {
    entries: Cache<K, Arc<V>>,
    /// Counts this process's changes, so that a read which began before a change never puts
    /// what it read (now stale) into the cache after the change invalidated it.
    generation: AtomicU64,
}

impl<K, V> ReadThrough<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn new() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(STALE_SECS))
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    fn held(&self, key: &K) -> Option<Arc<V>> {
        self.entries.get(key)
    }

    /// The entry for `key`, or what `load` reads (kept when it found something).
    async fn get<F>(&self, key: &K, load: impl FnOnce() -> F) -> StoreResult<Option<Arc<V>>>
    where
        K: Clone,
        F: std::future::Future<Output = StoreResult<Option<Arc<V>>>>,
    {
        if let Some(held) = self.held(key) {
            return Ok(Some(held));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = load().await?;
        if let Some(value) = &found {
            if self.generation.load(Ordering::Acquire) == generation {
                self.entries.insert(key.clone(), value.clone());
            }
        }
        Ok(found)
    }

    fn changed(&self, key: &K) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(key);
    }

    fn changed_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

/// A cache of what a tenant holds, which drops it when the tenant is deleted through this
/// process (the store deletes what the tenant held with it).
pub trait TenantScoped: Send + Sync {
    fn forget(&self, tenant: TenantId);
}

pub struct CachedTenants {
    inner: Arc<dyn TenantRepo>,
    by_slug: ReadThrough<TenantSlug, Tenant>,
    holdings: Vec<Arc<dyn TenantScoped>>,
}

impl CachedTenants {
    /// `holdings` are the caches of what tenants hold.
    pub fn new(inner: Arc<dyn TenantRepo>, holdings: Vec<Arc<dyn TenantScoped>>) -> Self {
        Self {
            inner,
            by_slug: ReadThrough::new(),
            holdings,
        }
    }

    fn changed(&self) {
        // Tenant changes are rare (console and command line): dropping every entry is simplest.
        self.by_slug.changed_all();
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
        self.by_slug
            .get(slug, || self.inner.shared_by_slug(slug))
            .await
    }

    fn in_memory_by_slug(&self, slug: &TenantSlug) -> Option<Arc<Tenant>> {
        self.by_slug.held(slug)
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.inner.by_id(id).await
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let updated = self.inner.update(tenant).await;
        self.changed();
        updated
    }

    async fn place(&self, id: TenantId, placement: &Placement) -> StoreResult<()> {
        let placed = self.inner.place(id, placement).await;
        self.changed();
        placed
    }

    async fn list(
        &self,
        text: Option<&str>,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<Tenant>> {
        self.inner.list(text, after, limit).await
    }

    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        let deleted = self.inner.delete(id).await;
        self.changed();
        for holding in &self.holdings {
            holding.forget(id);
        }
        deleted
    }
}

pub struct CachedClients {
    inner: Arc<dyn ClientRepo>,
    by_id: ReadThrough<(TenantId, String), Client>,
}

impl CachedClients {
    pub fn new(inner: Arc<dyn ClientRepo>) -> Self {
        Self {
            inner,
            by_id: ReadThrough::new(),
        }
    }

    fn changed(&self, tenant: TenantId, client_id: &str) {
        self.by_id.changed(&(tenant, client_id.to_owned()));
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
        self.by_id
            .get(&(tenant, client_id.to_owned()), || {
                self.inner.shared_by_client_id(tenant, client_id)
            })
            .await
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

/// A tenant's connections, as one list: what the sign-in page and the flow read. Links are
/// not cached (they are read once per sign-in through a provider).
pub struct CachedConnections {
    inner: Arc<dyn ConnectionRepo>,
    of_tenant: ReadThrough<TenantId, Vec<Connection>>,
}

impl CachedConnections {
    pub fn new(inner: Arc<dyn ConnectionRepo>) -> Self {
        Self {
            inner,
            of_tenant: ReadThrough::new(),
        }
    }

    async fn all(&self, tenant: TenantId) -> StoreResult<Arc<Vec<Connection>>> {
        let list = self.of_tenant.get(&tenant, || async {
            Ok(Some(Arc::new(self.inner.list(tenant).await?)))
        });
        Ok(list.await?.unwrap_or_default())
    }
}

impl TenantScoped for CachedConnections {
    fn forget(&self, tenant: TenantId) {
        self.of_tenant.changed(&tenant);
    }
}

#[async_trait]
impl ConnectionRepo for CachedConnections {
    async fn create(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
        let created = self.inner.create(tenant, connection).await;
        self.of_tenant.changed(&tenant);
        created
    }

    async fn update(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
        let updated = self.inner.update(tenant, connection).await;
        self.of_tenant.changed(&tenant);
        updated
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Connection>> {
        Ok(Arc::unwrap_or_clone(self.all(tenant).await?))
    }

    async fn by_slug(&self, tenant: TenantId, slug: &str) -> StoreResult<Option<Connection>> {
        let all = self.all(tenant).await?;
        Ok(all.iter().find(|c| c.slug == slug).cloned())
    }

    async fn delete(&self, tenant: TenantId, id: uuid::Uuid) -> StoreResult<bool> {
        let deleted = self.inner.delete(tenant, id).await;
        self.of_tenant.changed(&tenant);
        deleted
    }

    async fn link(&self, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<()> {
        self.inner.link(tenant, link).await
    }

    async fn linked(
        &self,
        tenant: TenantId,
        connection: uuid::Uuid,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>> {
        self.inner.linked(tenant, connection, subject).await
    }

    async fn links_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<LinkedIdentity>> {
        self.inner.links_of(tenant, user).await
    }

    async fn record_link_use(
        &self,
        tenant: TenantId,
        connection: uuid::Uuid,
        subject: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        (self.inner)
            .record_link_use(tenant, connection, subject, at)
            .await
    }

    async fn unlink(
        &self,
        tenant: TenantId,
        user: UserId,
        connection: uuid::Uuid,
        subject: &str,
    ) -> StoreResult<bool> {
        self.inner.unlink(tenant, user, connection, subject).await
    }
}

pub struct CachedUsers {
    inner: Arc<dyn UserRepo>,
    by_id: ReadThrough<(TenantId, UserId), User>,
}

impl CachedUsers {
    pub fn new(inner: Arc<dyn UserRepo>) -> Self {
        Self {
            inner,
            by_id: ReadThrough::new(),
        }
    }

    fn changed(&self, tenant: TenantId, id: UserId) {
        self.by_id.changed(&(tenant, id));
    }
}

#[async_trait]
impl UserRepo for CachedUsers {
    async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()> {
        let created = self.inner.create(tenant, user, roles).await;
        self.changed(tenant, user.id);
        created
    }

    async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let load = || async { Ok(self.inner.by_id(tenant, id).await?.map(Arc::new)) };
        let found = self.by_id.get(&(tenant, id), load).await?;
        Ok(found.map(Arc::unwrap_or_clone))
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>> {
        self.inner.by_email(tenant, email).await
    }

    async fn record_login(&self, tenant: TenantId, id: UserId, at: Timestamp) -> StoreResult<()> {
        let recorded = self.inner.record_login(tenant, id, at).await;
        self.changed(tenant, id);
        recorded
    }

    async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let updated = self.inner.update(tenant, user).await;
        self.changed(tenant, user.id);
        updated
    }

    async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>> {
        self.inner.roles(tenant, id).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        self.inner.list(tenant, after, limit).await
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &UserQuery,
        before: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        self.inner.search(tenant, query, before, limit).await
    }

    async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let deleted = self.inner.delete(tenant, id).await;
        self.changed(tenant, id);
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
        let (sqlite, _) = SqliteStore::open(&dir.path().join("t.db"), Access::Tool, true)
            .await
            .unwrap();
        let backend: Arc<SqliteStore> = Arc::new(sqlite);
        let cached = CachedTenants::new(backend.clone(), Vec::new());
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

    #[tokio::test]
    async fn a_blocked_user_is_seen_at_once_and_one_blocked_behind_its_back_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = SqliteStore::open(&dir.path().join("u.db"), Access::Tool, true)
            .await
            .unwrap();
        let backend: Arc<SqliteStore> = Arc::new(sqlite);
        let tenant = Tenant::new(TenantSlug::parse("acme").unwrap(), "Acme").unwrap();
        TenantRepo::create(&*backend, &tenant).await.unwrap();
        let cached = CachedUsers::new(backend.clone());
        let email = crate::domain::Email::parse("ada@example.com").unwrap();
        let mut user = User::new(tenant.id, email, Some("Ada")).unwrap();
        cached.create(tenant.id, &user, &[]).await.unwrap();
        let (tenant_id, id) = (tenant.id, user.id);
        let can_sign_in = || async {
            let found = cached.by_id(tenant_id, id).await.unwrap();
            found.expect("the user exists").can_sign_in()
        };
        assert!(can_sign_in().await);

        user.blocked = true;
        cached.update(tenant.id, &user).await.unwrap();
        assert!(!can_sign_in().await, "blocked through the cache: at once");

        // Another process unblocks (straight to the backend): seen once the entry expires.
        user.blocked = false;
        UserRepo::update(&*backend, tenant.id, &user).await.unwrap();
        assert!(!can_sign_in().await);
        tokio::time::sleep(Duration::from_secs(STALE_SECS) + Duration::from_millis(200)).await;
        assert!(can_sign_in().await);
    }

    #[tokio::test]
    async fn a_new_connection_shows_at_once_and_one_disabled_behind_its_back_within_the_bound() {
        use crate::domain::{ClaimMapping, Preset, Protocol};
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = SqliteStore::open(&dir.path().join("c.db"), Access::Tool, true)
            .await
            .unwrap();
        let backend: Arc<SqliteStore> = Arc::new(sqlite);
        let tenant = Tenant::new(TenantSlug::parse("acme").unwrap(), "Acme").unwrap();
        TenantRepo::create(&*backend, &tenant).await.unwrap();
        let cached = CachedConnections::new(backend.clone());
        assert!(cached.list(tenant.id).await.unwrap().is_empty());
        let mut corp = Connection {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant.id,
            slug: "corp".into(),
            name: "Corp".into(),
            preset: Preset::Oidc,
            protocol: Protocol::Oidc {
                issuer: "https://idp.corp.example".into(),
            },
            client_id: "tessera".into(),
            client_secret: None,
            scopes: vec!["openid".into()],
            claims: ClaimMapping::default(),
            domains: Vec::new(),
            provisioning: false,
            enabled: true,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        cached.create(tenant.id, &corp).await.unwrap();
        let enabled = || async {
            let found = cached.by_slug(tenant.id, "corp").await.unwrap();
            found.expect("the connection exists").enabled
        };
        assert!(enabled().await, "added through the cache: seen at once");

        // Another process disables it (straight to the backend): seen once the entry expires.
        corp.enabled = false;
        ConnectionRepo::update(&*backend, tenant.id, &corp)
            .await
            .unwrap();
        assert!(enabled().await);
        tokio::time::sleep(Duration::from_secs(STALE_SECS) + Duration::from_millis(200)).await;
        assert!(!enabled().await);
    }
}
