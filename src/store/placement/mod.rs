//! Database-per-tenant mode: the repositories of every tenant-scoped call go to the tenant's
//! own database when it has one, else to the main store. The registry of tenants (with each
//! own database's connection settings, sealed) stays in the main store, and so do the records
//! of the installation: browser sessions, the job queue and its scheduled turns.
//!
//! Open databases are bounded: the least recently used close beyond
//! `TESSERA_TENANT_DATABASES_OPEN` (their pools close once no request holds them), and one
//! opens again, migrated to this version's schema, on its tenant's next request.
//! Housekeeping (purges, key rotation) visits the main store and the databases open at the
//! time, so no background job touches every tenant: a database not open has had no requests,
//! and its expired rows wait for the next time it is used.

mod databases;
mod delegate;
mod moving;

pub(crate) use databases::{Databases, TenantDatabase};
pub use moving::Moved;

use super::{Store, StoreError, StoreResult};
use crate::crypto::EncryptionKey;
use crate::domain::{Placement, TenantId};
use moka::{policy::EvictionPolicy, sync::Cache};
use std::sync::Arc;
use std::time::Duration;

/// How long a tenant's placement is taken from memory: another process moving a tenant is
/// seen within this bound (`tessera tenant move` waits it out before it deletes the source).
pub const PLACEMENT_STALE_SECS: u64 = 5;

/// A tenant's own database, open.
struct Opened {
    /// The sealed settings it was opened from: a tenant moved to another database opens that.
    sealed: Arc<str>,
    store: Store,
}

/// Routes every tenant-scoped call to the store that holds the tenant.
pub struct Placements {
    main: Store,
    databases: Databases,
    key: EncryptionKey,
    migrate: bool,
    /// Each tenant's sealed database settings, `None` for the main store.
    known: Cache<TenantId, Option<Arc<str>>>,
    open: Cache<TenantId, Arc<Opened>>,
    /// Databases open one at a time (rare: a tenant's first request in a while).
    opening: tokio::sync::Mutex<()>,
}

/// The store of one tenant.
enum Route<'a> {
    Main(&'a Store),
    Own(Arc<Opened>),
}

impl std::ops::Deref for Route<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        match self {
            Route::Main(store) => store,
            Route::Own(opened) => &opened.store,
        }
    }
}

/// The items bound for one store, with the positions they had among all.
struct Group<'a, T> {
    route: Route<'a>,
    positions: Vec<usize>,
    members: Vec<T>,
}

impl Route<'_> {
    fn same_as(&self, other: &Route<'_>) -> bool {
        match (self, other) {
            (Route::Main(_), Route::Main(_)) => true,
            (Route::Own(a), Route::Own(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Placements {
    /// Puts the routing in front of `main`; at most `max_open` tenants' databases stay open.
    pub(crate) fn wrap(
        main: Store,
        databases: Databases,
        key: EncryptionKey,
        migrate: bool,
        max_open: u64,
    ) -> Store {
        let placements = Arc::new(Self {
            databases,
            key,
            migrate,
            known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(PLACEMENT_STALE_SECS))
                .build(),
            open: Cache::builder()
                .max_capacity(max_open)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            opening: tokio::sync::Mutex::new(()),
            main: main.clone(),
        });
        Store {
            tenants: placements.clone(),
            users: placements.clone(),
            clients: placements.clone(),
            sessions: placements.clone(),
            consents: placements.clone(),
            factors: placements.clone(),
            access: placements.clone(),
            api_keys: placements.clone(),
            initial_tokens: placements.clone(),
            connections: placements.clone(),
            webhooks: placements.clone(),
            keys: placements.clone(),
            audit: placements.clone(),
            artifacts: placements.clone(),
            batches: placements.clone(),
            insights: placements.clone(),
            browser_sessions: main.browser_sessions,
            jobs: main.jobs,
            probes: main.probes,
            placements: Some(placements),
        }
    }

    /// The main store alone: the registry, and the tenants without a database of their own.
    pub fn main(&self) -> &Store {
        &self.main
    }

    /// How many tenants' own databases are open now.
    pub fn open_databases(&self) -> u64 {
        self.open.run_pending_tasks();
        self.open.entry_count()
    }

    /// Opens `tenant`'s own database, migrating it when this process migrates; false for a
    /// tenant of the main store (`tessera migrate --all`).
    pub async fn open_database(&self, tenant: TenantId) -> StoreResult<bool> {
        Ok(matches!(self.of(tenant).await?, Route::Own(_)))
    }

    /// The store that holds `tenant`'s data.
    async fn of(&self, tenant: TenantId) -> StoreResult<Route<'_>> {
        let sealed = match self.known.get(&tenant) {
            Some(known) => known,
            None => {
                let known =
                    self.main
                        .tenants
                        .by_id(tenant)
                        .await?
                        .and_then(|t| match t.placement {
                            Placement::Dedicated { database } => database.map(Arc::from),
                            Placement::Shared => None,
                        });
                self.known.insert(tenant, known.clone());
                known
            }
        };
        match sealed {
            None => Ok(Route::Main(&self.main)),
            Some(sealed) => Ok(Route::Own(self.opened(tenant, &sealed).await?)),
        }
    }

    async fn opened(&self, tenant: TenantId, sealed: &Arc<str>) -> StoreResult<Arc<Opened>> {
        let current = || self.open.get(&tenant).filter(|o| o.sealed == *sealed);
        if let Some(opened) = current() {
            return Ok(opened);
        }
        let _turn = self.opening.lock().await;
        if let Some(opened) = current() {
            return Ok(opened);
        }
        let database = TenantDatabase::unseal(sealed, tenant, &self.key)?;
        let store = self
            .databases
            .open(&database, self.migrate)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let opened = Arc::new(Opened {
            sealed: sealed.clone(),
            store,
        });
        self.open.insert(tenant, opened.clone());
        // Closes the least recently used database now, not at some later call.
        self.open.run_pending_tasks();
        Ok(opened)
    }

    /// The main store and every tenant database open now: where housekeeping looks.
    fn everywhere(&self) -> Vec<Route<'_>> {
        let mut all = vec![Route::Main(&self.main)];
        all.extend(self.open.iter().map(|(_, opened)| Route::Own(opened)));
        all
    }

    /// `items` grouped by the store of their tenant, each group in the order of `items`. All
    /// tenants of the main store form one group, so what one transaction wrote before is still
    /// written in one.
    async fn grouped<T: Clone>(
        &self,
        items: &[T],
        tenant_of: impl Fn(&T) -> TenantId,
    ) -> StoreResult<Vec<Group<'_, T>>> {
        let mut groups: Vec<Group<'_, T>> = Vec::new();
        for (at, item) in items.iter().enumerate() {
            let route = self.of(tenant_of(item)).await?;
            match groups.iter_mut().find(|g| g.route.same_as(&route)) {
                Some(group) => {
                    group.positions.push(at);
                    group.members.push(item.clone());
                }
                None => groups.push(Group {
                    route,
                    positions: vec![at],
                    members: vec![item.clone()],
                }),
            }
        }
        Ok(groups)
    }

    /// Forgets what this process knew of `tenant`'s placement, closing its database.
    fn forget(&self, tenant: TenantId) {
        self.known.invalidate(&tenant);
        self.open.invalidate(&tenant);
    }
}
