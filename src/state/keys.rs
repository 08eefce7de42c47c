//! Per-tenant signing keys and their rotation. A key is published in the JWKS before it signs
//! (state `next`), signs while `active`, and stays published while `retired` until everything
//! it signed has expired. Private halves are sealed at rest and decrypted once per load.
//!
//! Every process keeps a short-lived cache per tenant (keys parsed, the JWKS serialised) and
//! reloads it from the store, so keys created or rotated by another process sharing the store
//! are picked up within [`CACHE_SECS`]; whichever process first sees a next key's time come
//! promotes it.

use crate::crypto::{
    sha256_b64url,
    signing::{self, Signer, Verifier},
    EncryptionKey,
};
use crate::domain::{KeyState, SigningAlg, SigningKey, TenantId, Timestamp};
use crate::error::{AppError, AppResult};
use crate::store::{Store, StoreError};
use moka::sync::Cache;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// How long a process trusts its cached view of a tenant's keys: the same bound as the tenants
/// and clients it caches.
pub const CACHE_SECS: i64 = crate::store::cached::STALE_SECS as i64;
/// How long a retired key stays in the JWKS: longer than any token it signed lives (client
/// token lifetimes are capped at a day).
pub const RETIRED_KEY_SECS: i64 = 24 * 3600 + 2 * CACHE_SECS;
/// How long a rotated-in key is published before it signs: relying parties refresh a JWKS
/// they cached (ours allows 5 minutes) before they meet a token signed with it.
pub const PUBLISH_BEFORE_USE_SECS: i64 = 10 * 60;

/// Verified tokens remembered per tenant.
const VERIFIED_TOKENS: u64 = 4096;
/// The most tenants whose keys a process holds in memory; a tenant beyond them is loaded again
/// from the store when it is next asked for.
const CACHED_TENANTS: usize = 1000;

/// One key the tenant verifies with (and perhaps signs with).
struct LoadedKey {
    alg: SigningAlg,
    verifier: Verifier,
}

pub struct TenantKeys {
    /// The active key of each algorithm: its kid and signing key.
    signing: HashMap<SigningAlg, (String, Signer)>,
    verifying: HashMap<String, LoadedKey>,
    /// The public JWK Set (RFC 7517 §5) of every published key, serialised once per load.
    pub jwks: axum::body::Bytes,
    /// The JWK Set's entity tag (RFC 9110 §8.8.3): its hash, so every process gives the same.
    pub jwks_etag: axum::http::HeaderValue,
    /// Tokens whose signature, type and issuer these keys have checked (see `jwt::verify`).
    pub(crate) verified: Cache<[u8; 32], (Arc<[u8]>, Registered)>,
    /// After this (Unix seconds) the cache is stale: the cache lifetime, or a next key's
    /// activation. A reload that finds the same keys only moves it on.
    fresh_until: AtomicI64,
    /// What the keys were loaded from: each published key's kid, state and activation.
    loaded_from: Vec<(String, KeyState, Timestamp)>,
}

impl TenantKeys {
    /// The kid and key that sign with `alg`, if the tenant has such a key.
    pub fn signer(&self, alg: SigningAlg) -> Option<(&str, &Signer)> {
        self.signing.get(&alg).map(|(kid, key)| (kid.as_str(), key))
    }

    /// The key `kid` and its algorithm, if it is published.
    pub fn verifier(&self, kid: &str) -> Option<(SigningAlg, &Verifier)> {
        self.verifying.get(kid).map(|k| (k.alg, &k.verifier))
    }

    fn is_fresh(&self, now: Timestamp) -> bool {
        now.unix() < self.fresh_until.load(Ordering::Relaxed)
    }
}

/// The published keys of `stored` as [`TenantKeys::loaded_from`] records them.
fn published(stored: &[SigningKey], now: Timestamp) -> Vec<(String, KeyState, Timestamp)> {
    stored
        .iter()
        .filter(|k| k.is_published(now))
        .map(|k| (k.kid.clone(), k.state, k.activates_at))
        .collect()
}

/// Until when keys loaded at `now` may be used: the cache lifetime, or the moment a next key
/// starts signing.
fn fresh_until(stored: &[SigningKey], now: Timestamp) -> Timestamp {
    stored
        .iter()
        .filter(|k| k.is_published(now) && k.state == KeyState::Next)
        .map(|k| k.activates_at)
        .fold(now.plus_secs(CACHE_SECS), Timestamp::min)
}

/// The cache is read by every protocol request and written every few seconds per tenant: a
/// plain lock held for a map lookup, never across an await. Reloads take turns (`reloading`),
/// so the requests that find a tenant's keys stale at the same moment load them once.
pub struct KeyRing {
    store: Store,
    sealing: EncryptionKey,
    cache: RwLock<HashMap<TenantId, Arc<TenantKeys>>>,
    reloading: tokio::sync::Mutex<()>,
}

fn sealing_context(tenant: TenantId, kid: &str) -> String {
    format!("signing-key:{tenant}:{kid}")
}

impl KeyRing {
    pub fn new(store: Store, sealing: EncryptionKey) -> Self {
        Self {
            store,
            sealing,
            cache: RwLock::new(HashMap::new()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The tenant's keys, with an active ES256 key (created on first use).
    pub async fn for_tenant(&self, tenant: TenantId) -> AppResult<Arc<TenantKeys>> {
        if let Some(keys) = self.fresh(tenant) {
            return Ok(keys);
        }
        let _turn = self.reloading.lock().await;
        // Another request may have reloaded them while this one waited.
        if let Some(keys) = self.fresh(tenant) {
            return Ok(keys);
        }
        self.reload(tenant, SigningAlg::DEFAULT).await
    }

    /// The tenant's keys as held in memory, when they are recent enough to serve without a
    /// look at the store.
    pub fn fresh(&self, tenant: TenantId) -> Option<Arc<TenantKeys>> {
        self.cached(tenant)
            .filter(|keys| keys.is_fresh(Timestamp::now()))
    }

    fn cached(&self, tenant: TenantId) -> Option<Arc<TenantKeys>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(&tenant).cloned()
    }

    /// The tenant's keys, with an active key of `alg` (created when there is none).
    pub async fn for_alg(&self, tenant: TenantId, alg: SigningAlg) -> AppResult<Arc<TenantKeys>> {
        let keys = self.for_tenant(tenant).await?;
        if keys.signer(alg).is_some() {
            return Ok(keys);
        }
        self.reload(tenant, alg).await
    }

    /// Makes sure the tenant can sign with `alg` now.
    pub async fn ensure_alg(&self, tenant: TenantId, alg: SigningAlg) -> AppResult<()> {
        self.for_alg(tenant, alg).await.map(|_| ())
    }

    /// Creates the tenant's first key now rather than on the first sign-in.
    pub async fn ensure(&self, tenant: TenantId) -> AppResult<()> {
        self.for_tenant(tenant).await.map(|_| ())
    }

    /// Starts a rotation: a new key of `alg`, published now, signing from `activates_at` on.
    pub async fn rotate(
        &self,
        tenant: TenantId,
        alg: SigningAlg,
        activates_at: Timestamp,
    ) -> AppResult<SigningKey> {
        let key = self.generate(tenant, alg, KeyState::Next, activates_at);
        match self.store.keys.insert(tenant, &key).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict(format!(
                    "a rotation of the {} key is already under way; it completes when the next key activates",
                    alg.as_str()
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.reload(tenant, SigningAlg::DEFAULT).await?;
        Ok(key)
    }

    /// Loads the tenant's keys from the store, first promoting next keys whose time has come
    /// and creating an active key of `required` when there is none.
    async fn reload(&self, tenant: TenantId, required: SigningAlg) -> AppResult<Arc<TenantKeys>> {
        let now = Timestamp::now();
        let mut stored = self.store.keys.list(tenant).await?;
        let mut changed = false;
        for key in &stored {
            if key.state == KeyState::Next && !now.is_before(key.activates_at) {
                let retire_until = now.plus_secs(RETIRED_KEY_SECS);
                self.store
                    .keys
                    .promote(tenant, key.alg, &key.kid, retire_until)
                    .await?;
                changed = true;
            }
        }
        let has_active = |keys: &[SigningKey]| {
            keys.iter()
                .any(|k| k.alg == required && k.state == KeyState::Active)
        };
        if changed {
            stored = self.store.keys.list(tenant).await?;
        }
        if !has_active(&stored) {
            let first = self.generate(tenant, required, KeyState::Active, now);
            match self.store.keys.insert(tenant, &first).await {
                // Another process created it at the same moment: use theirs.
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            stored = self.store.keys.list(tenant).await?;
        }
        // The same keys as before: no decryption and no new JWKS, and the tokens it verified
        // stay remembered.
        if let Some(keys) = self.cached(tenant) {
            if keys.loaded_from == published(&stored, now) {
                let until = fresh_until(&stored, now).unix();
                keys.fresh_until.store(until, Ordering::Relaxed);
                return Ok(keys);
            }
        }
        let keys = Arc::new(self.load(tenant, &stored, now)?);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHED_TENANTS && !cache.contains_key(&tenant) {
            // Bounded however many tenants there are: the stale go first (they would be
            // reloaded anyway), then any one.
            cache.retain(|_, keys| keys.is_fresh(now));
            if let Some(any) = cache.keys().next().copied() {
                if cache.len() >= CACHED_TENANTS {
                    cache.remove(&any);
                }
            }
        }
        cache.insert(tenant, keys.clone());
        Ok(keys)
    }

    fn load(
        &self,
        tenant: TenantId,
        stored: &[SigningKey],
        now: Timestamp,
    ) -> AppResult<TenantKeys> {
        let mut signing = HashMap::new();
        let mut verifying = HashMap::new();
        let mut public = Vec::new();
        for key in stored.iter().filter(|k| k.is_published(now)) {
            let jwk: Value = serde_json::from_str(&key.public_jwk).map_err(AppError::internal)?;
            let verifier = Verifier::from_jwk(key.alg, &jwk)
                .map_err(|e| AppError::internal(format!("signing key {}: {e}", key.kid)))?;
            verifying.insert(
                key.kid.clone(),
                LoadedKey {
                    alg: key.alg,
                    verifier,
                },
            );
            public.push(jwk);
            match key.state {
                KeyState::Active => {
                    let der = self
                        .sealing
                        .open(&key.private_key_sealed, &sealing_context(tenant, &key.kid))
                        .map_err(|e| AppError::internal(format!("signing key {}: {e}", key.kid)))?;
                    let signer = Signer::from_der(key.alg, &der)
                        .map_err(|e| AppError::internal(format!("signing key {}: {e}", key.kid)))?;
                    signing.insert(key.alg, (key.kid.clone(), signer));
                }
                KeyState::Next | KeyState::Retired => {}
            }
        }
        let jwks = serde_json::to_vec(&json!({ "keys": public })).map_err(AppError::internal)?;
        Ok(TenantKeys {
            signing,
            verifying,
            jwks_etag: format!("\"{}\"", sha256_b64url(&jwks))
                .parse()
                .map_err(AppError::internal)?,
            jwks: jwks.into(),
            verified: Cache::new(VERIFIED_TOKENS),
            fresh_until: AtomicI64::new(fresh_until(stored, now).unix()),
            loaded_from: published(stored, now),
        })
    }

    fn generate(
        &self,
        tenant: TenantId,
        alg: SigningAlg,
        state: KeyState,
        activates_at: Timestamp,
    ) -> SigningKey {
        let pair = signing::generate(alg);
        SigningKey {
            tenant_id: tenant,
            private_key_sealed: self
                .sealing
                .seal(&pair.private_der, &sealing_context(tenant, &pair.kid)),
            kid: pair.kid,
            alg,
            public_jwk: pair.public_jwk.to_string(),
            state,
            created_at: Timestamp::now(),
            activates_at,
            retires_at: None,
        }
    }
}

/// The registered claims (RFC 7519 §4.1) that every check of one of our tokens reads, and all
/// that is remembered of a token these keys have checked (`oidc::jwt`).
#[derive(Clone, serde::Deserialize)]
pub struct Registered {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Tenant, TenantSlug};
    use crate::store::{sqlite::SqliteStore, Access};

    /// A migrated SQLite store in a folder that lives as long as the first value.
    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = SqliteStore::open(&dir.path().join("t.db"), Access::Tool, true)
            .await
            .unwrap();
        (dir, Store::from_backend("sqlite", Arc::new(sqlite)))
    }

    fn make_stale(keys: &TenantKeys) {
        keys.fresh_until.store(0, Ordering::Relaxed);
    }

    #[tokio::test]
    async fn the_keys_of_at_most_so_many_tenants_stay_in_memory() {
        let (_dir, store) = sqlite_store().await;
        let ring = KeyRing::new(
            store.clone(),
            EncryptionKey::parse(&"ab".repeat(32)).unwrap(),
        );
        let mut first = None;
        for n in 0..CACHED_TENANTS + 5 {
            let slug = TenantSlug::parse(&format!("t{n}")).unwrap();
            let tenant = Tenant::new(slug, "T").unwrap();
            store.tenants.create(&tenant).await.unwrap();
            let keys = ring.for_tenant(tenant.id).await.unwrap();
            first.get_or_insert((tenant.id, keys));
        }
        let held = ring.cache.read().unwrap().len();
        assert_eq!(held, CACHED_TENANTS);
        // An evicted tenant's keys load again, the same keys.
        let (id, keys) = first.unwrap();
        let again = ring.for_tenant(id).await.unwrap();
        assert_eq!(again.jwks, keys.jwks);
    }

    #[tokio::test]
    async fn a_reload_keeps_unchanged_keys_and_picks_up_another_processs_rotation() {
        let (_dir, store) = sqlite_store().await;
        let tenant = Tenant::new(TenantSlug::parse("acme").unwrap(), "Acme").unwrap();
        store.tenants.create(&tenant).await.unwrap();
        let sealing = EncryptionKey::parse(&"ab".repeat(32)).unwrap();
        let ring = KeyRing::new(store.clone(), sealing.clone());
        let first = ring.for_tenant(tenant.id).await.unwrap();

        // Nothing changed in the store: the same keys, fresh again.
        make_stale(&first);
        let again = ring.for_tenant(tenant.id).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "unchanged keys are not loaded again"
        );
        assert!(again.is_fresh(Timestamp::now()));

        // Another process (another ring on the same store) starts a rotation: once the cache
        // is stale, this process publishes the next key too.
        let other = KeyRing::new(store, sealing);
        let next = other
            .rotate(
                tenant.id,
                SigningAlg::ES256,
                Timestamp::now().plus_secs(3600),
            )
            .await
            .unwrap();
        assert!(ring
            .for_tenant(tenant.id)
            .await
            .unwrap()
            .verifier(&next.kid)
            .is_none());
        make_stale(&first);
        let rotated = ring.for_tenant(tenant.id).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &rotated));
        assert!(
            rotated.verifier(&next.kid).is_some(),
            "the next key is published"
        );
        let jwks = String::from_utf8(rotated.jwks.to_vec()).unwrap();
        assert!(jwks.contains(&next.kid));
    }
}
