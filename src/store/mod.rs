//! The storage contract. Every backend implements these traits; the server holds them as
//! `Arc<dyn …>` chosen from configuration. Tenant-scoped calls take a [`TenantId`] first, so a
//! tenant-less query of tenant data cannot be written through this contract.

pub mod audited;
pub mod cached;
mod decode;
pub mod group_commit;
pub mod mongo;
mod open;
pub mod outbox;
pub mod placement;
pub mod postgres;
pub mod redis;
mod sql;
pub mod sqlite;

pub use open::open;

use crate::domain::insights::{ClientUse, DaySignIns, People};
use crate::domain::{
    AccessTokenRecord, ApiKey, AuditEvent, AuthorizationCode, BrowserSessionRecord, Client,
    Connection, Consent, DeliveryAttempt, Factor, InitialAccessToken, Job, JobBacklog,
    LinkedIdentity, LoginFlow, Outcome, Placement, Protocol, RefreshToken, Role, SigningAlg,
    SigningKey, Team, Tenant, TenantId, TenantSlug, Timestamp, User, UserId, UserSession,
    WebhookEndpoint,
};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};
use std::sync::Arc;
use uuid::Uuid;

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
#[derive(Clone, Debug, thiserror::Error)]
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
    /// As [`by_slug`](Self::by_slug), shared rather than copied: every protocol request reads
    /// its tenant, whose settings carry the logo, and a cache hands out the one it holds.
    async fn shared_by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Arc<Tenant>>> {
        Ok(self.by_slug(slug).await?.map(Arc::new))
    }
    /// The tenant as this process already holds it, without a read: for answers that are only
    /// worth giving from memory (`http::documents`). `None` when it is not held.
    fn in_memory_by_slug(&self, _slug: &TenantSlug) -> Option<Arc<Tenant>> {
        None
    }
    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Replaces the tenant's name, status and settings (not its placement); `NotFound` when it
    /// does not exist.
    async fn update(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Records where the tenant's data now lives (`tessera tenant move`); `NotFound` when the
    /// tenant does not exist. A placement to create (`Dedicated { database: None }`) is
    /// `Corrupt`: only a database that exists is recorded.
    async fn place(&self, id: TenantId, placement: &Placement) -> StoreResult<()>;
    /// One page of the tenants in creation order, after the tenant `after`: all of them, or
    /// those whose slug or name contains `text` (ignoring case).
    async fn list(
        &self,
        text: Option<&str>,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<Tenant>>;
    /// Deletes the tenant and every row of it in this store (users, clients, keys, audit log,
    /// artifacts…); false when there is no such tenant.
    async fn delete(&self, id: TenantId) -> StoreResult<bool>;
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
    /// One page of the users matching `query`, newest first: those created before `before` (the
    /// last id of the previous page), at most `limit`. Users created meanwhile never shift a
    /// page: they sort before its cursor.
    async fn search(
        &self,
        tenant: TenantId,
        query: &UserQuery,
        before: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>>;
    /// Deletes the user for good with every row that depends on it: sign-ins, consents,
    /// factors, role assignments, team memberships, and the tokens kept in this store. False
    /// when there is no such user.
    async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool>;
}

/// Filters of the console's user list; `None` means either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// A case-insensitive part of the email address or name.
    pub text: Option<String>,
    pub blocked: Option<bool>,
    /// `Some(true)`: only soft-deleted users; `Some(false)`: only those not deleted.
    pub deleted: Option<bool>,
    /// Has at least one second factor.
    pub mfa: Option<bool>,
    pub email_verified: Option<bool>,
    /// Holds the role directly or through a team.
    pub role: Option<String>,
    pub team: Option<Uuid>,
}

/// Roles and teams of a tenant. Built-in roles live in code; only custom roles are stored.
/// Role assignments name a role by its id.
#[async_trait]
pub trait AccessRepo: Send + Sync {
    /// `Conflict` when a custom role has the same name (ignoring case).
    async fn create_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()>;
    /// The tenant's custom roles, by name.
    async fn custom_roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>>;
    /// Replaces the name, description and permissions; `NotFound`, or `Conflict` on a name.
    async fn update_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()>;
    /// Deletes a custom role with its assignments to users and teams; false when absent.
    async fn delete_role(&self, tenant: TenantId, id: &str) -> StoreResult<bool>;
    /// False when the user already held the role directly.
    async fn assign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool>;
    /// False when the user did not hold the role directly.
    async fn unassign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool>;
    /// Users who hold the role directly (not through a team).
    async fn role_holders(&self, tenant: TenantId, role: &str) -> StoreResult<Vec<UserId>>;

    /// `Conflict` when a team has the same name (ignoring case).
    async fn create_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()>;
    /// The tenant's teams with their roles, by name.
    async fn teams(&self, tenant: TenantId) -> StoreResult<Vec<Team>>;
    /// Replaces the name, description and roles; `NotFound`, or `Conflict` on a name.
    async fn update_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()>;
    /// Deletes the team and its memberships; false when absent.
    async fn delete_team(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// False when the user was a member already; `NotFound` when the team or user is missing.
    async fn add_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool>;
    /// False when the user was not a member.
    async fn remove_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool>;
    /// The team's members, oldest membership first.
    async fn members(&self, tenant: TenantId, team: Uuid) -> StoreResult<Vec<UserId>>;
    /// The ids of the teams the user belongs to.
    async fn teams_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Uuid>>;
}

#[async_trait]
pub trait ClientRepo: Send + Sync {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()>;
    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>>;
    /// As [`by_client_id`](Self::by_client_id), shared rather than copied (every client request
    /// reads its client; a cache hands out the one it holds).
    async fn shared_by_client_id(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> StoreResult<Option<Arc<Client>>> {
        Ok(self.by_client_id(tenant, client_id).await?.map(Arc::new))
    }
    /// Replaces the client's settings (found by its key); `NotFound` when it does not exist.
    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()>;
    /// Every client of the tenant, in client-id order.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>>;
    /// Deletes the client; false when there is no such client. Its tokens die with it: every
    /// token endpoint looks the client up first.
    async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool>;
}

/// RFC 7591 §3: the tenant's initial access tokens, with which applications register.
#[async_trait]
pub trait InitialTokenRepo: Send + Sync {
    /// `Conflict` when the id or the hash exists.
    async fn create(&self, tenant: TenantId, token: &InitialAccessToken) -> StoreResult<()>;
    /// The tenant's tokens, newest first, spent, expired and revoked ones included.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<InitialAccessToken>>;
    /// Counts one use of the token whose hash is `hash`, if at `at` it is unrevoked, unexpired
    /// and has a use left; the token as it now stands, `None` when it could not be used. One
    /// statement, so two processes never spend the same last use.
    async fn spend(
        &self,
        tenant: TenantId,
        hash: &str,
        at: Timestamp,
    ) -> StoreResult<Option<InitialAccessToken>>;
    /// Revokes the token at `at`; false when there is no such token or it was revoked already.
    async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool>;
}

/// The tenant's upstream identity providers (`domain::connection`) and the upstream
/// identities linked to its people. Links die with their connection.
#[async_trait]
pub trait ConnectionRepo: Send + Sync {
    /// `Conflict` when the id or the slug exists in the tenant.
    async fn create(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()>;
    /// Replaces the connection's settings (found by its id); `NotFound` when it does not
    /// exist, `Conflict` when its new slug is another's.
    async fn update(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()>;
    /// The tenant's connections in slug order, disabled ones included.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Connection>>;
    async fn by_slug(&self, tenant: TenantId, slug: &str) -> StoreResult<Option<Connection>>;
    /// Deletes the connection and its links; false when there is no such connection.
    async fn delete(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;

    /// `Conflict` when the upstream identity (connection, subject) is linked already, to
    /// anyone; `NotFound` when the connection or the person does not exist.
    async fn link(&self, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<()>;
    /// The link of the upstream identity, if any.
    async fn linked(
        &self,
        tenant: TenantId,
        connection: Uuid,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>>;
    /// The person's links, oldest first.
    async fn links_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<LinkedIdentity>>;
    /// Records a sign-in through the link at `at`.
    async fn record_link_use(
        &self,
        tenant: TenantId,
        connection: Uuid,
        subject: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Removes the person's link; false when the person has no such link.
    async fn unlink(
        &self,
        tenant: TenantId,
        user: UserId,
        connection: Uuid,
        subject: &str,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait ApiKeyRepo: Send + Sync {
    /// `Conflict` when the id or the hash exists.
    async fn create(&self, tenant: TenantId, key: &ApiKey) -> StoreResult<()>;
    /// The tenant's keys, newest first, revoked and expired ones included.
    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>>;
    /// The key of this tenant whose hash is `hash`, whatever its state.
    async fn by_hash(&self, tenant: TenantId, hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Records a use at `at`, unless one at or after `since` is already recorded (a key used
    /// many times a second writes at most once per interval).
    async fn record_use(
        &self,
        tenant: TenantId,
        id: Uuid,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()>;
    /// Revokes the key at `at`; false when there is no such key or it was revoked already.
    async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool>;
}

/// The webhook endpoints of a tenant and the log of their deliveries (`domain::webhook`).
#[async_trait]
pub trait WebhookRepo: Send + Sync {
    /// `Conflict` when the id exists.
    async fn create_endpoint(
        &self,
        tenant: TenantId,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<()>;
    /// The tenant's endpoints, newest first, disabled ones included.
    async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// Stores every field of `endpoint` but its id, tenant and creation time; false when there
    /// is no such endpoint.
    async fn update_endpoint(
        &self,
        tenant: TenantId,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<bool>;
    /// Deletes the endpoint and its delivery log; false when there is no such endpoint.
    async fn delete_endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Logs an attempt and what it says of its endpoint, in one step that several processes
    /// may take at once: a success clears `failing_since`; a failure sets it when unset, and
    /// disables the endpoint (saying `reason`) when it has been failing since `disable_before`
    /// or earlier. True when this call disabled the endpoint.
    async fn record_attempt(
        &self,
        tenant: TenantId,
        attempt: &DeliveryAttempt,
        disable_before: Timestamp,
        reason: &str,
    ) -> StoreResult<bool>;
    /// The endpoint's logged attempts, newest first, at most `limit`.
    async fn attempts(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
    async fn attempt(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<DeliveryAttempt>>;
    /// Housekeeping across all tenants: deletes at most `limit` attempts logged before
    /// `before`; returns how many.
    async fn purge_attempts_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
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
    /// The user's consents, in client-id order.
    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Consent>>;
    /// Withdraws the user's consent to `client_id`; false when there was none.
    async fn revoke(&self, tenant: TenantId, user: UserId, client_id: &str) -> StoreResult<bool>;
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
    /// Housekeeping across all tenants: at most `limit` active keys that signed since `before`
    /// or earlier and have no successor (next key) yet, as tenant and algorithm, oldest first.
    async fn due_for_rotation(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, SigningAlg)>>;
}

#[async_trait]
pub trait AuditRepo: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Appends events of any tenants; backends with transactions write them in one.
    async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
        for event in events {
            self.append(event).await?;
        }
        Ok(())
    }
    /// Newest first; only those of `actor` when given.
    async fn recent(
        &self,
        tenant: TenantId,
        actor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// One page of the events matching `query`, newest first: those recorded before the event
    /// `before` (the last id of the previous page), at most `limit`.
    async fn search(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// The configured retention, the one way events leave the log: deletes at most `limit`
    /// events (of every tenant) recorded before `before`; returns how many.
    async fn purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// The action filter of `query` and whether it names a family of actions (`user.`).
pub(crate) fn action_filter(query: &AuditQuery) -> (Option<&str>, bool) {
    let action = query.action.as_deref();
    (action, action.is_some_and(|a| a.ends_with('.')))
}

/// Filters of the audit log; each given one must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Exactly this actor, e.g. `user:<id>` or `cli`.
    pub actor: Option<String>,
    /// Exactly this target, e.g. `user:<id>` or `client:<client_id>`.
    pub target: Option<String>,
    /// This action, or every action below it when it ends with `.` (e.g. `user.`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Recorded at or after.
    pub from: Option<Timestamp>,
    /// Recorded before.
    pub until: Option<Timestamp>,
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

/// The records of one token response: its access token and, when it has one, its refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuance {
    pub access: AccessTokenRecord,
    pub refresh: Option<RefreshToken>,
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
    /// Records what several token responses issued (of any tenants: each record carries its
    /// own); backends with transactions write them all in one.
    async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
        for one in issued {
            self.record_access_token(one.access.tenant_id, &one.access)
                .await?;
            if let Some(refresh) = &one.refresh {
                self.put_refresh_token(refresh.tenant_id, refresh).await?;
            }
        }
        Ok(())
    }
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
    /// One page of the tenant's refresh tokens that have not expired at `now`, spent and
    /// revoked ones included (their state travels with them), by token hash after `after`:
    /// what `tessera tenant move` carries to the tenant's new store.
    async fn refresh_tokens(
        &self,
        tenant: TenantId,
        now: Timestamp,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RefreshToken>>;
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

    /// Revokes every token `user` holds for `client_id`: each refresh token (so every family
    /// of theirs ends) and each access token; returns how many tokens. Withdrawing a consent
    /// ends what it allowed.
    async fn revoke_grant(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;

    /// Inserts a short-lived record under (`kind`, `key`), replacing one that has expired;
    /// `Conflict` when a live record holds the key (a lease: see `state::lease`).
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

    /// Deletes the record if it still holds `value` (a lease ended by its holder, not by
    /// whoever took it over after it expired); false when it did not.
    async fn remove_ephemeral_if(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        value: &str,
    ) -> StoreResult<bool>;
    /// Counts an event in a sliding window: adds one to the record's version, starting a new
    /// record at 1 (with an empty value) when there is none or it has expired, and moves its
    /// expiry to `expires_at`. Returns the count. Concurrent callers each count.
    async fn count_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        expires_at: Timestamp,
    ) -> StoreResult<i64>;

    /// Housekeeping across all tenants: deletes at most `limit` artifacts of each kind that
    /// expired before `before`; returns how many.
    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// Work queued in the main store (never Redis: it must survive restarts), shared by every
/// process: a job is leased to one process at a time, and a lease that ends without the job
/// being finished (the process died) makes it due again.
#[async_trait]
pub trait JobRepo: Send + Sync {
    async fn enqueue(&self, tenant: TenantId, job: &Job) -> StoreResult<()>;
    /// Leases to `holder`, until `until`, at most `limit` jobs of any tenant that are due at
    /// `now` and not leased; each claim counts an attempt. Earliest due first.
    async fn claim(
        &self,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Deletes a job leased to `holder` (done, or given up); false when the lease was lost.
    async fn finish(&self, job: &Job, holder: &str) -> StoreResult<bool>;
    /// Ends `holder`'s lease of a job that failed, due again at `run_at`; false when the lease
    /// was lost.
    async fn retry(
        &self,
        job: &Job,
        holder: &str,
        run_at: Timestamp,
        error: &str,
    ) -> StoreResult<bool>;
    /// The jobs of a tenant not yet finished, earliest due first (for the console and tests).
    async fn pending(&self, tenant: TenantId) -> StoreResult<Vec<Job>>;
    /// Takes the turn of the installation-wide scheduled job `name` when it is due at `now`
    /// (or has never run), making the next turn due at `next`; of several processes asking at
    /// once, one gets it.
    async fn take_turn(&self, name: &str, now: Timestamp, next: Timestamp) -> StoreResult<bool>;
    /// The queue of every tenant at `now`.
    async fn backlog(&self, now: Timestamp) -> StoreResult<JobBacklog>;
}

/// The figures of a tenant's console overview (`domain::insights`), counted where the data
/// lives.
#[async_trait]
pub trait InsightsRepo: Send + Sync {
    /// Per UTC day from `since`: sign-ins (`login.succeeded`) and failed attempts (failed
    /// `login.password` and `login.second_factor` events). Days without any are left out.
    async fn sign_ins_per_day(
        &self,
        tenant: TenantId,
        since: Timestamp,
    ) -> StoreResult<Vec<DaySignIns>>;
    /// Clients by the `token.issued` events they caused since `since`, busiest first (ties by
    /// client id), at most `limit`; names left empty.
    async fn busiest_clients(
        &self,
        tenant: TenantId,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClientUse>>;
    /// The tenant's people: all, those who signed in since `active_since`, and those with
    /// second factors.
    async fn people(&self, tenant: TenantId, active_since: Timestamp) -> StoreResult<People>;
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

/// A backend that can say whether it is reachable, for `/readyz`, and how busy its
/// connection pool is, for `/metrics`.
#[async_trait]
pub trait Ping: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
    /// `None` for a backend whose driver keeps its pool to itself (MongoDB, Redis).
    fn pool_use(&self) -> Option<PoolUse> {
        None
    }
}

/// A connection pool at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUse {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUse {
    pub fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Self {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        Self {
            in_use: pool.size().saturating_sub(idle),
            idle,
            max: pool.options().get_max_connections(),
        }
    }
}

/// One configured backend as `/readyz` reports it.
#[derive(Clone)]
pub struct Probe {
    /// What it stores and on which backend, e.g. `oidc_artifacts (redis)`.
    pub name: String,
    pub target: Arc<dyn Ping>,
}

/// The group commit's write (`group_commit.rs`): the token records and audit events of one
/// batch.
/// A refresh token to spend (RFC 6749 §6, rotation) and what the response that replaces it
/// stores: its records and its `token.issued` event, kept only if the token is spent.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub tenant: TenantId,
    pub token_hash: String,
    pub at: Timestamp,
    pub issuance: Issuance,
    pub event: AuditEvent,
}

#[async_trait]
pub trait BatchRepo: Send + Sync {
    /// Spends the refresh tokens of `rotations`, then writes `issued`, `events` and what each
    /// spent rotation replaces them with; answers for each rotation, in order, as
    /// [`OidcArtifactRepo::rotate_refresh_token`] does. In one transaction where one backend
    /// keeps them all (SQLite, PostgreSQL), so a batch is stored whole or not at all and can
    /// be retried row by row, and a token is spent only together with its replacement.
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>>;
}

/// Spends a batch's refresh tokens one by one, then writes its token records, its jobs, then
/// its audit events: for a backend without transactions over several collections (MongoDB).
/// A failure after a token was spent loses that token (its client must sign in again), as it
/// would between two separate calls. The jobs (webhook messages) go before their events and
/// are written idempotently (a job already there is left as it is), so that a batch tried
/// again writes each once, and a crash between the two leaves a message of an event rather
/// than an event whose message is lost.
pub(crate) async fn write_one_after_the_other(
    artifacts: &dyn OidcArtifactRepo,
    audit: &dyn AuditRepo,
    queue: &dyn JobRepo,
    rotations: &[Rotation],
    issued: &[Issuance],
    events: &[AuditEvent],
    jobs: &[Job],
) -> StoreResult<Vec<Redemption<RefreshToken>>> {
    let (outcomes, events) = spend_one_by_one(artifacts, rotations, issued, events).await?;
    for job in jobs {
        match queue.enqueue(job.tenant_id, job).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if !events.is_empty() {
        audit.append_all(&events).await?;
    }
    Ok(outcomes)
}

/// Spends the refresh tokens of `rotations` one by one and stores the token records of the
/// batch and of each rotation that spent its token; returns the outcomes and the audit events
/// left to write (the batch's and those of the spent rotations).
async fn spend_one_by_one(
    artifacts: &dyn OidcArtifactRepo,
    rotations: &[Rotation],
    issued: &[Issuance],
    events: &[AuditEvent],
) -> StoreResult<(Vec<Redemption<RefreshToken>>, Vec<AuditEvent>)> {
    let mut outcomes = Vec::with_capacity(rotations.len());
    let (mut issued, mut events) = (issued.to_vec(), events.to_vec());
    for rotation in rotations {
        let outcome = artifacts
            .rotate_refresh_token(rotation.tenant, &rotation.token_hash, rotation.at)
            .await?;
        if matches!(outcome, Redemption::Redeemed(_)) {
            issued.push(rotation.issuance.clone());
            events.push(rotation.event.clone());
        }
        outcomes.push(outcome);
    }
    if !issued.is_empty() {
        artifacts.record_issued(&issued).await?;
    }
    Ok((outcomes, events))
}

/// What a batch stores: its own token records and events, then those of each rotation that
/// spent its token (`outcomes`, in the order of `rotations`).
pub(crate) fn to_store<'a>(
    rotations: &'a [Rotation],
    outcomes: &[Redemption<RefreshToken>],
    issued: &'a [Issuance],
    events: &'a [AuditEvent],
) -> (Vec<&'a Issuance>, Vec<&'a AuditEvent>) {
    let spent: Vec<&Rotation> = rotations
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| matches!(outcome, Redemption::Redeemed(_)))
        .map(|(rotation, _)| rotation)
        .collect();
    (
        issued
            .iter()
            .chain(spent.iter().map(|r| &r.issuance))
            .collect(),
        events
            .iter()
            .chain(spent.iter().map(|r| &r.event))
            .collect(),
    )
}

/// Token records in one backend (Redis); audit events and jobs in the main one, together as
/// its own batches write them.
struct Separate {
    artifacts: Arc<dyn OidcArtifactRepo>,
    main: Arc<dyn BatchRepo>,
}

#[async_trait]
impl BatchRepo for Separate {
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
        let (outcomes, events) =
            spend_one_by_one(&*self.artifacts, rotations, issued, events).await?;
        if !events.is_empty() || !jobs.is_empty() {
            self.main.write_batch(&[], &[], &events, jobs).await?;
        }
        Ok(outcomes)
    }
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
    pub access: Arc<dyn AccessRepo>,
    pub api_keys: Arc<dyn ApiKeyRepo>,
    pub initial_tokens: Arc<dyn InitialTokenRepo>,
    pub connections: Arc<dyn ConnectionRepo>,
    pub webhooks: Arc<dyn WebhookRepo>,
    pub keys: Arc<dyn SigningKeyRepo>,
    pub audit: Arc<dyn AuditRepo>,
    pub artifacts: Arc<dyn OidcArtifactRepo>,
    pub browser_sessions: Arc<dyn BrowserSessionRepo>,
    pub batches: Arc<dyn BatchRepo>,
    pub jobs: Arc<dyn JobRepo>,
    pub insights: Arc<dyn InsightsRepo>,
    pub probes: Vec<Probe>,
    /// Tenants' own databases (moving tenants, migrating every database); `None` in a store
    /// of one backend alone, such as a tenant's own database.
    pub placements: Option<Arc<placement::Placements>>,
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
            + AccessRepo
            + ApiKeyRepo
            + InitialTokenRepo
            + ConnectionRepo
            + WebhookRepo
            + SigningKeyRepo
            + AuditRepo
            + OidcArtifactRepo
            + BrowserSessionRepo
            + BatchRepo
            + JobRepo
            + InsightsRepo
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
            access: backend.clone(),
            api_keys: backend.clone(),
            initial_tokens: backend.clone(),
            connections: backend.clone(),
            webhooks: backend.clone(),
            keys: backend.clone(),
            audit: backend.clone(),
            artifacts: backend.clone(),
            browser_sessions: backend.clone(),
            batches: backend.clone(),
            jobs: backend.clone(),
            insights: backend.clone(),
            probes: vec![Probe {
                name: format!("main ({kind})"),
                target: backend,
            }],
            placements: None,
        }
    }

    /// Puts the in-process caches of [`cached`] in front of the tenants, clients, users and
    /// connections.
    pub fn with_caches(mut self) -> Self {
        let connections = Arc::new(cached::CachedConnections::new(self.connections));
        self.connections = connections.clone();
        self.tenants = Arc::new(cached::CachedTenants::new(self.tenants, vec![connections]));
        self.clients = Arc::new(cached::CachedClients::new(self.clients));
        self.users = Arc::new(cached::CachedUsers::new(self.users));
        self
    }

    /// Sends the short-lived OIDC artifacts to another backend, called `kind` in `/readyz`.
    pub fn with_artifacts<A>(mut self, kind: &str, artifacts: Arc<A>) -> Self
    where
        A: OidcArtifactRepo + Ping + 'static,
    {
        self.artifacts = artifacts.clone();
        self.batches = Arc::new(Separate {
            artifacts: artifacts.clone(),
            main: self.batches.clone(),
        });
        self.probes.push(Probe {
            name: format!("oidc_artifacts ({kind})"),
            target: artifacts,
        });
        self
    }
}

/// What a backend keeps of a tenant's placement: its sealed database settings, or nothing
/// for the main store.
pub(crate) fn sealed_database(placement: &Placement) -> StoreResult<Option<&str>> {
    match placement {
        Placement::Shared => Ok(None),
        Placement::Dedicated {
            database: Some(sealed),
        } => Ok(Some(sealed)),
        Placement::Dedicated { database: None } => Err(StoreError::Corrupt(
            "a dedicated tenant without its database".into(),
        )),
    }
}

/// What a backend keeps of a connection's protocol: its kind, then its issuer, authorization,
/// token and userinfo endpoints, those of the other kind empty (read by `decode::protocol`).
pub(crate) fn protocol_columns(protocol: &Protocol) -> (&'static str, [Option<&str>; 4]) {
    match protocol {
        Protocol::Oidc { issuer } => ("oidc", [Some(issuer), None, None, None]),
        Protocol::Saml {
            entity_id, sso_url, ..
        } => ("saml", [Some(entity_id), Some(sso_url), None, None]),
        Protocol::OAuth2 {
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
        } => (
            "oauth2",
            [
                None,
                Some(authorization_endpoint),
                Some(token_endpoint),
                Some(userinfo_endpoint),
            ],
        ),
    }
}

/// A SAML connection's signing certificates, kept beside the addresses of
/// [`protocol_columns`]; `None` for the other kinds.
pub(crate) fn certificates_column(protocol: &Protocol) -> Option<&Vec<String>> {
    match protocol {
        Protocol::Saml { certificates, .. } => Some(certificates),
        Protocol::Oidc { .. } | Protocol::OAuth2 { .. } => None,
    }
}

/// The placement of a tenant whose backend keeps `database`.
pub(crate) fn placement_of(database: Option<String>) -> Placement {
    match database {
        None => Placement::Shared,
        database => Placement::Dedicated { database },
    }
}

/// Backends that keep records as JSON text share one encoding.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

pub(crate) fn from_json<T: DeserializeOwned>(raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}
