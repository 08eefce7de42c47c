//! The storage contract. Every backend implements these traits; the server holds them as
//! `Arc<dyn …>` chosen from configuration. Tenant-scoped calls take a [`TenantId`] first, so a
//! tenant-less query of tenant data cannot be written through this contract.

mod decode;
pub mod mongo;
mod open;
pub mod postgres;
pub mod redis;
mod sql;
pub mod sqlite;

pub use open::open;

use crate::domain::{
    AccessTokenRecord, AuditEvent, AuthorizationCode, BrowserSessionRecord, Client, Consent,
    Factor, LoginFlow, RefreshToken, SigningAlg, SigningKey, Tenant, TenantId, TenantSlug,
    Timestamp, User, UserId, UserSession,
};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};
use std::sync::Arc;

/// Whether this process is the one server allowed on a SQLite database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `tessera serve`: takes the file's server lock or refuses to start.
    Server,
    /// Short command-line tasks, which may run beside a server (SQLite serialises the writes).
    Tool,
}

/// Why storage could not be opened at start-up; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "another Tessera server is already using the database {0}. SQLite allows one server per database file: stop the other server, or point STORAGE_SQLITE_PATH at another file"
    )]
    InUse(String),
    #[error("cannot create or open {0}: {1}")]
    Io(String, std::io::Error),
    /// What could not be reached (e.g. "the PostgreSQL database"), where, and why.
    #[error("cannot connect to {0} at {1}: {2}")]
    Connect(&'static str, String, String),
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The PostgreSQL role would see every tenant's rows, defeating row-level security.
    #[error("the PostgreSQL role {0:?} bypasses row-level security (it is a superuser or has BYPASSRLS). Connect as an ordinary role that owns the Tessera database, e.g. createuser tessera && createdb -O tessera tessera")]
    BypassesRowSecurity(String),
}

/// The same faults reported the same way by every backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint would be broken; the string names what already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait TenantRepo: Send + Sync {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>>;
    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Replaces the tenant's name, status and settings; `NotFound` when it does not exist.
    async fn update(&self, tenant: &Tenant) -> StoreResult<()>;
    /// One page of all tenants in creation order, after the tenant `after`.
    async fn list(&self, after: Option<TenantId>, limit: u32) -> StoreResult<Vec<Tenant>>;
}

#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Creates the user and, when `roles` is not empty, assigns them, atomically.
    async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()>;
    async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>>;
    async fn record_login(&self, tenant: TenantId, id: UserId, at: Timestamp) -> StoreResult<()>;
    /// Replaces the user's profile, password, and status (found by id); `NotFound` when the
    /// user does not exist, `Conflict` when the new email belongs to another user.
    async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()>;
    async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>>;
    /// One page of users in creation order: those created after `after` (a cursor from the
    /// previous page), at most `limit`.
    async fn list(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>>;
}

#[async_trait]
pub trait ClientRepo: Send + Sync {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()>;
    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>>;
    /// Replaces the client's settings (found by its key); `NotFound` when it does not exist.
    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()>;
    /// Every client of the tenant, in client-id order.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>>;
}

#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn create(&self, tenant: TenantId, session: &UserSession) -> StoreResult<()>;
    async fn get(&self, tenant: TenantId, id: &str) -> StoreResult<Option<UserSession>>;
    async fn touch(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()>;
    async fn revoke(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()>;
    /// The user's sign-ins that are neither revoked nor expired at `now`, newest first.
    async fn of_user(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<UserSession>>;
    /// Revokes every sign-in of the user; returns the ids of those it revoked.
    async fn revoke_all(
        &self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<Vec<String>>;
    /// Housekeeping across all tenants: deletes at most `limit` sessions that expired before
    /// `before`; returns how many.
    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

#[async_trait]
pub trait ConsentRepo: Send + Sync {
    async fn get(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Consent>>;
    async fn upsert(&self, tenant: TenantId, consent: &Consent) -> StoreResult<()>;
}

#[async_trait]
pub trait FactorRepo: Send + Sync {
    /// `Conflict` when the id exists.
    async fn add(&self, tenant: TenantId, factor: &Factor) -> StoreResult<()>;
    /// The user's factors, oldest first.
    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Factor>>;
    /// Replaces the data of factor `id` and records its use, if it is still at `version`;
    /// false when another update came first or the factor is gone.
    async fn swap(
        &self,
        tenant: TenantId,
        id: &str,
        version: i64,
        data: &str,
        used_at: Timestamp,
    ) -> StoreResult<bool>;
    /// False when the user has no factor `id`.
    async fn remove(&self, tenant: TenantId, user: UserId, id: &str) -> StoreResult<bool>;
    /// Removes every factor of the user; returns how many.
    async fn remove_all(&self, tenant: TenantId, user: UserId) -> StoreResult<u64>;
}

#[async_trait]
pub trait SigningKeyRepo: Send + Sync {
    /// `Conflict` when the tenant already has an active key, or a next key, of its algorithm.
    async fn insert(&self, tenant: TenantId, key: &SigningKey) -> StoreResult<()>;
    /// Every key of the tenant, newest first.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>>;
    /// Makes the next key `kid` the active one of `alg`, retiring the active key (published
    /// until `retire_until`). False when `kid` is not a next key (any more): another process
    /// promoted it first.
    async fn promote(
        &self,
        tenant: TenantId,
        alg: SigningAlg,
        kid: &str,
        retire_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Housekeeping across all tenants: deletes at most `limit` retired keys whose time in the
    /// JWKS ended before `before`; returns how many.
    async fn purge_retired(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

#[async_trait]
pub trait AuditRepo: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Newest first; only those of `actor` when given.
    async fn recent(
        &self,
        tenant: TenantId,
        actor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// A short-lived record of [`OidcArtifactRepo`]'s key-value part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ephemeral {
    /// JSON, opaque to the store.
    pub value: String,
    /// Starts at 1; each successful swap adds one.
    pub version: i64,
    pub expires_at: Timestamp,
}

/// Spent codes and token records are kept a day past expiry: a code replayed late still finds
/// its record, so the tokens it issued are revoked (RFC 6749 §4.1.2).
pub const ARTIFACT_RETENTION_SECS: i64 = 24 * 3600;

/// Outcome of spending a single-use artifact: an authorization code, or a refresh token
/// (which is spent by rotation).
#[derive(Debug)]
pub enum Redemption<T = AuthorizationCode> {
    /// First use: it is now spent.
    Redeemed(T),
    /// It was already spent (or revoked): a replay (RFC 6749 §4.1.2, RFC 9700 §4.5, §4.14.2).
    AlreadyUsed(T),
    Unknown,
}

/// Short-lived protocol artifacts; a separate trait so they can live in Redis later.
#[async_trait]
pub trait OidcArtifactRepo: Send + Sync {
    async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()>;
    async fn get_flow(&self, tenant: TenantId, id: &str) -> StoreResult<Option<LoginFlow>>;
    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()>;

    async fn put_code(&self, tenant: TenantId, code: &AuthorizationCode) -> StoreResult<()>;
    /// Atomically marks the code used; exactly one of concurrent callers gets `Redeemed`.
    async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption>;

    async fn record_access_token(
        &self,
        tenant: TenantId,
        token: &AccessTokenRecord,
    ) -> StoreResult<()>;
    async fn access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>>;
    /// Revokes every access token issued for a code; returns how many.
    async fn revoke_tokens_of_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Revokes one access token; false when it is unknown or was revoked already.
    async fn revoke_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;

    async fn put_refresh_token(&self, tenant: TenantId, token: &RefreshToken) -> StoreResult<()>;
    async fn refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>>;
    /// Atomically spends a token that is neither rotated nor revoked; exactly one of concurrent
    /// callers gets `Redeemed`. A spent or revoked token comes back as `AlreadyUsed`.
    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>>;
    /// Revokes every refresh token of a family and every access token issued with them;
    /// returns how many tokens of either kind it revoked.
    async fn revoke_refresh_family(
        &self,
        tenant: TenantId,
        family_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Revokes the families of every refresh token bound to the browser sign-in `session_id`
    /// (not those of offline access), with their access tokens; returns how many tokens.
    async fn revoke_session_tokens(
        &self,
        tenant: TenantId,
        session_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;

    /// Inserts a short-lived record under (`kind`, `key`); `Conflict` when the key is taken.
    async fn put_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        value: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The record, unless it has expired.
    async fn get_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>>;
    /// Removes and returns the record, unless it has expired; of concurrent callers at most one
    /// gets it.
    async fn take_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>>;
    /// Replaces the value if the record is still at `version` (and not expired); false when
    /// another update came first.
    async fn swap_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        version: i64,
        value: &str,
    ) -> StoreResult<bool>;

    /// Housekeeping across all tenants: deletes at most `limit` artifacts of each kind that
    /// expired before `before`; returns how many.
    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// Browser sessions for `tower-sessions`; not tenant-scoped (one browser, many tenants).
#[async_trait]
pub trait BrowserSessionRepo: Send + Sync {
    /// Inserts a new record; `Conflict` when the id hash exists.
    async fn create(&self, record: &BrowserSessionRecord) -> StoreResult<()>;
    async fn save(&self, record: &BrowserSessionRecord) -> StoreResult<()>;
    async fn load(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<BrowserSessionRecord>>;
    async fn delete(&self, id_hash: &str) -> StoreResult<()>;
    /// Deletes at most `limit` sessions that expired before `before`; returns how many.
    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// A backend that can say whether it is reachable, for `/readyz`.
#[async_trait]
pub trait Ping: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
}

/// One configured backend as `/readyz` reports it.
#[derive(Clone)]
pub struct Probe {
    /// What it stores and on which backend, e.g. `oidc_artifacts (redis)`.
    pub name: String,
    pub target: Arc<dyn Ping>,
}

/// Every repository the server uses, chosen once at start-up.
#[derive(Clone)]
pub struct Store {
    pub tenants: Arc<dyn TenantRepo>,
    pub users: Arc<dyn UserRepo>,
    pub clients: Arc<dyn ClientRepo>,
    pub sessions: Arc<dyn SessionRepo>,
    pub consents: Arc<dyn ConsentRepo>,
    pub factors: Arc<dyn FactorRepo>,
    pub keys: Arc<dyn SigningKeyRepo>,
    pub audit: Arc<dyn AuditRepo>,
    pub artifacts: Arc<dyn OidcArtifactRepo>,
    pub browser_sessions: Arc<dyn BrowserSessionRepo>,
    pub probes: Vec<Probe>,
}

impl Store {
    /// Builds a store in which one backend, called `kind` in `/readyz`, serves every repository.
    pub fn from_backend<B>(kind: &str, backend: Arc<B>) -> Self
    where
        B: TenantRepo
            + UserRepo
            + ClientRepo
            + SessionRepo
            + ConsentRepo
            + FactorRepo
            + SigningKeyRepo
            + AuditRepo
            + OidcArtifactRepo
            + BrowserSessionRepo
            + Ping
            + 'static,
    {
        Self {
            tenants: backend.clone(),
            users: backend.clone(),
            clients: backend.clone(),
            sessions: backend.clone(),
            consents: backend.clone(),
            factors: backend.clone(),
            keys: backend.clone(),
            audit: backend.clone(),
            artifacts: backend.clone(),
            browser_sessions: backend.clone(),
            probes: vec![Probe {
                name: format!("main ({kind})"),
                target: backend,
            }],
        }
    }

    /// Sends the short-lived OIDC artifacts to another backend, called `kind` in `/readyz`.
    pub fn with_artifacts<A>(mut self, kind: &str, artifacts: Arc<A>) -> Self
    where
        A: OidcArtifactRepo + Ping + 'static,
    {
        self.artifacts = artifacts.clone();
        self.probes.push(Probe {
            name: format!("oidc_artifacts ({kind})"),
            target: artifacts,
        });
        self
    }
}

/// Backends that keep records as JSON text share one encoding.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

pub(crate) fn from_json<T: DeserializeOwned>(raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}
