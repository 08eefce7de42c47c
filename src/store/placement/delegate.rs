//! The repositories of [`Placements`]: each tenant-scoped call goes to its tenant's store;
//! the tenant registry is the main store's; housekeeping visits every open store.

use super::{Group, Placements, Route};
use crate::domain::insights::{ClientUse, DaySignIns, People};
use crate::domain::{
    AccessTokenRecord, ApiKey, AuditEvent, AuthorizationCode, Client, Connection, Consent,
    DeliveryAttempt, Factor, InitialAccessToken, Job, KeyState, LinkedIdentity, LoginFlow,
    Placement, RefreshToken, Role, SigningAlg, SigningKey, Team, Tenant, TenantId, TenantSlug,
    Timestamp, User, UserId, UserSession, WebhookEndpoint,
};
use crate::store::audited;
use crate::store::{
    AccessRepo, ApiKeyRepo, AuditQuery, AuditRepo, BatchRepo, ClientRepo, ConnectionRepo,
    ConsentRepo, Ephemeral, FactorRepo, InitialTokenRepo, InsightsRepo, Issuance, OidcArtifactRepo,
    Redemption, Rotation, SessionRepo, SigningKeyRepo, Store, StoreError, StoreResult, TenantRepo,
    UserQuery, UserRepo, WebhookRepo,
};
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

/// Implements `$trait` by sending each listed method, whose first argument is the tenant, to
/// the tenant's store; the block after the list holds the trait's other methods.
macro_rules! by_tenant {
    ($trait:ident, $field:ident;
     $($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*
     { $($rest:tt)* }) => {
        #[async_trait]
        impl $trait for Placements {
            $(
                async fn $name(&self, tenant: TenantId $(, $arg: $ty)*) -> StoreResult<$ret> {
                    let route = self.of(tenant).await?;
                    let call = route.$field.$name(tenant $(, $arg)*);
                    match route {
                        Route::Main(_) => call.await,
                        // Its transactions cannot hold the main store's job queue.
                        Route::Own(_) => audited::apart(call).await,
                    }
                }
            )*
            $($rest)*
        }
    };
}

by_tenant! { UserRepo, users;
    create(user: &User, roles: &[&str]) -> ();
    by_id(id: UserId) -> Option<User>;
    by_email(email: &str) -> Option<User>;
    record_login(id: UserId, at: Timestamp) -> ();
    update(user: &User) -> ();
    roles(id: UserId) -> Vec<String>;
    list(after: Option<UserId>, limit: u32) -> Vec<User>;
    search(query: &UserQuery, before: Option<UserId>, limit: u32) -> Vec<User>;
    delete(id: UserId) -> bool;
    {}
}

by_tenant! { AccessRepo, access;
    create_role(role: &Role) -> ();
    custom_roles() -> Vec<Role>;
    update_role(role: &Role) -> ();
    delete_role(id: &str) -> bool;
    assign_role(user: UserId, role: &str) -> bool;
    unassign_role(user: UserId, role: &str) -> bool;
    role_holders(role: &str) -> Vec<UserId>;
    create_team(team: &Team) -> ();
    teams() -> Vec<Team>;
    update_team(team: &Team) -> ();
    delete_team(id: Uuid) -> bool;
    add_member(team: Uuid, user: UserId) -> bool;
    remove_member(team: Uuid, user: UserId) -> bool;
    members(team: Uuid) -> Vec<UserId>;
    teams_of(user: UserId) -> Vec<Uuid>;
    {}
}

by_tenant! { ClientRepo, clients;
    create(client: &Client) -> ();
    by_client_id(client_id: &str) -> Option<Client>;
    shared_by_client_id(client_id: &str) -> Option<Arc<Client>>;
    update(client: &Client) -> ();
    list() -> Vec<Client>;
    delete(client_id: &str) -> bool;
    {}
}

by_tenant! { SessionRepo, sessions;
    create(session: &UserSession) -> ();
    get(id: &str) -> Option<UserSession>;
    touch(id: &str, at: Timestamp) -> ();
    revoke(id: &str, at: Timestamp) -> ();
    of_user(user: UserId, now: Timestamp) -> Vec<UserSession>;
    revoke_all(user: UserId, at: Timestamp) -> Vec<String>;
    {
        async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
            self.purge_everywhere(limit, |store, left| store.sessions.purge_expired(before, left))
                .await
        }
    }
}

by_tenant! { ConsentRepo, consents;
    get(user: UserId, client_id: &str) -> Option<Consent>;
    upsert(consent: &Consent) -> ();
    of_user(user: UserId) -> Vec<Consent>;
    revoke(user: UserId, client_id: &str) -> bool;
    {}
}

by_tenant! { FactorRepo, factors;
    add(factor: &Factor) -> ();
    of_user(user: UserId) -> Vec<Factor>;
    swap(id: &str, version: i64, data: &str, used_at: Timestamp) -> bool;
    remove(user: UserId, id: &str) -> bool;
    remove_all(user: UserId) -> u64;
    {}
}

by_tenant! { ApiKeyRepo, api_keys;
    create(key: &ApiKey) -> ();
    list() -> Vec<ApiKey>;
    by_hash(hash: &str) -> Option<ApiKey>;
    record_use(id: Uuid, at: Timestamp, since: Timestamp) -> ();
    revoke(id: Uuid, at: Timestamp) -> bool;
    {}
}

by_tenant! { InitialTokenRepo, initial_tokens;
    create(token: &InitialAccessToken) -> ();
    list() -> Vec<InitialAccessToken>;
    spend(hash: &str, at: Timestamp) -> Option<InitialAccessToken>;
    revoke(id: Uuid, at: Timestamp) -> bool;
    {}
}

by_tenant! { ConnectionRepo, connections;
    create(connection: &Connection) -> ();
    update(connection: &Connection) -> ();
    list() -> Vec<Connection>;
    by_slug(slug: &str) -> Option<Connection>;
    delete(id: Uuid) -> bool;
    link(link: &LinkedIdentity) -> ();
    linked(connection: Uuid, subject: &str) -> Option<LinkedIdentity>;
    links_of(user: UserId) -> Vec<LinkedIdentity>;
    record_link_use(connection: Uuid, subject: &str, at: Timestamp) -> ();
    unlink(user: UserId, connection: Uuid, subject: &str) -> bool;
    {}
}

by_tenant! { WebhookRepo, webhooks;
    create_endpoint(endpoint: &WebhookEndpoint) -> ();
    endpoints() -> Vec<WebhookEndpoint>;
    endpoint(id: Uuid) -> Option<WebhookEndpoint>;
    update_endpoint(endpoint: &WebhookEndpoint) -> bool;
    delete_endpoint(id: Uuid) -> bool;
    record_attempt(attempt: &DeliveryAttempt, disable_before: Timestamp, reason: &str) -> bool;
    attempts(endpoint: Uuid, limit: u32) -> Vec<DeliveryAttempt>;
    attempt(id: Uuid) -> Option<DeliveryAttempt>;
    {
        async fn purge_attempts_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
            self.purge_everywhere(limit, |store, left| {
                store.webhooks.purge_attempts_before(before, left)
            })
            .await
        }
    }
}

by_tenant! { SigningKeyRepo, keys;
    insert(key: &SigningKey) -> ();
    list() -> Vec<SigningKey>;
    promote(alg: SigningAlg, kid: &str, retire_until: Timestamp) -> bool;
    {
        async fn purge_retired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
            self.purge_everywhere(limit, |store, left| store.keys.purge_retired(before, left))
                .await
        }

        /// Oldest first across every store: each store's own answer, merged by when each
        /// active key began to sign (read from the few keys found due).
        async fn due_for_rotation(
            &self,
            before: Timestamp,
            limit: u32,
        ) -> StoreResult<Vec<(TenantId, SigningAlg)>> {
            let stores = self.everywhere();
            if stores.len() == 1 {
                return self.main.keys.due_for_rotation(before, limit).await;
            }
            let mut due = Vec::new();
            for store in stores {
                for (tenant, alg) in store.keys.due_for_rotation(before, limit).await? {
                    let since = store
                        .keys
                        .list(tenant)
                        .await?
                        .iter()
                        .find(|k| k.alg == alg && k.state == KeyState::Active)
                        .map(|k| k.activates_at);
                    due.push((since, tenant, alg));
                }
            }
            due.sort_by_key(|(since, tenant, _)| (*since, *tenant));
            due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(due.into_iter().map(|(_, tenant, alg)| (tenant, alg)).collect())
        }
    }
}

by_tenant! { AuditRepo, audit;
    recent(actor: Option<&str>, limit: u32) -> Vec<AuditEvent>;
    search(query: &AuditQuery, before: Option<Uuid>, limit: u32) -> Vec<AuditEvent>;
    {
        async fn append(&self, event: &AuditEvent) -> StoreResult<()> {
            self.of(event.tenant_id).await?.audit.append(event).await
        }

        async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
            for group in self.grouped(events, |e| e.tenant_id).await? {
                group.route.audit.append_all(&group.members).await?;
            }
            Ok(())
        }

        async fn purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
            self.purge_everywhere(limit, |store, left| store.audit.purge_before(before, left))
                .await
        }
    }
}

by_tenant! { OidcArtifactRepo, artifacts;
    put_flow(flow: &LoginFlow) -> ();
    get_flow(id: &str) -> Option<LoginFlow>;
    delete_flow(id: &str) -> ();
    put_code(code: &AuthorizationCode) -> ();
    redeem_code(code_hash: &str, at: Timestamp) -> Redemption;
    record_access_token(token: &AccessTokenRecord) -> ();
    access_token(jti: &str) -> Option<AccessTokenRecord>;
    revoke_tokens_of_code(code_hash: &str, at: Timestamp) -> u64;
    revoke_access_token(jti: &str, at: Timestamp) -> bool;
    put_refresh_token(token: &RefreshToken) -> ();
    refresh_token(token_hash: &str) -> Option<RefreshToken>;
    refresh_tokens(now: Timestamp, after: Option<&str>, limit: u32) -> Vec<RefreshToken>;
    rotate_refresh_token(token_hash: &str, at: Timestamp) -> Redemption<RefreshToken>;
    revoke_refresh_family(family_id: &str, at: Timestamp) -> u64;
    revoke_session_tokens(session_id: &str, at: Timestamp) -> u64;
    revoke_grant(user: UserId, client_id: &str, at: Timestamp) -> u64;
    put_ephemeral(kind: &str, key: &str, value: &str, expires_at: Timestamp) -> ();
    get_ephemeral(kind: &str, key: &str) -> Option<Ephemeral>;
    take_ephemeral(kind: &str, key: &str) -> Option<Ephemeral>;
    swap_ephemeral(kind: &str, key: &str, version: i64, value: &str) -> bool;
    remove_ephemeral_if(kind: &str, key: &str, value: &str) -> bool;
    count_ephemeral(kind: &str, key: &str, expires_at: Timestamp) -> i64;
    {
        async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
            for group in self.grouped(issued, |i| i.access.tenant_id).await? {
                group.route.artifacts.record_issued(&group.members).await?;
            }
            Ok(())
        }

        async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
            self.purge_everywhere(limit, |store, left| store.artifacts.purge_expired(before, left))
                .await
        }
    }
}

by_tenant! { InsightsRepo, insights;
    sign_ins_per_day(since: Timestamp) -> Vec<DaySignIns>;
    busiest_clients(since: Timestamp, limit: u32) -> Vec<ClientUse>;
    people(active_since: Timestamp) -> People;
    {}
}

impl Placements {
    /// Runs a bounded purge in the main store, then in each open tenant database, until
    /// `limit` rows are gone; returns how many.
    async fn purge_everywhere(
        &self,
        limit: u32,
        purge: impl for<'a> Fn(&'a Store, u32) -> BoxFuture<'a, StoreResult<u64>>,
    ) -> StoreResult<u64> {
        let mut purged = 0;
        for store in self.everywhere() {
            let left = u64::from(limit).saturating_sub(purged);
            if left == 0 {
                break;
            }
            purged += purge(&store, u32::try_from(left).unwrap_or(u32::MAX)).await?;
        }
        Ok(purged)
    }
}

#[async_trait]
impl BatchRepo for Placements {
    /// One batch per store (the main one and each tenant database concerned), each whole or
    /// not at all as that store writes it; the outcomes in the order of `rotations`. Jobs live
    /// in the main store: those of tenants kept there go into its batch, with their events;
    /// those of tenants with a database of their own are queued once their events are written
    /// (idempotently: a job already queued is left as it is).
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
        let rotations = self.grouped(rotations, |r| r.tenant).await?;
        let mut issued = self.grouped(issued, |i| i.access.tenant_id).await?;
        let mut events = self.grouped(events, |e| e.tenant_id).await?;
        let (mut main_jobs, mut own_jobs) = (Vec::new(), Vec::new());
        for group in self.grouped(jobs, |j| j.tenant_id).await? {
            match group.route {
                Route::Main(_) => main_jobs.extend(group.members),
                Route::Own(_) => own_jobs.extend(group.members),
            }
        }
        let mut jobs_of = |route: &Route<'_>| match route {
            Route::Main(_) => std::mem::take(&mut main_jobs),
            Route::Own(_) => Vec::new(),
        };
        let mut outcomes: Vec<Option<Redemption<RefreshToken>>> = Vec::new();
        outcomes.resize_with(rotations.iter().map(|g| g.positions.len()).sum(), || None);
        for group in rotations {
            let issued = take_same(&mut issued, &group.route);
            let events = take_same(&mut events, &group.route);
            let written = group
                .route
                .batches
                .write_batch(&group.members, &issued, &events, &jobs_of(&group.route))
                .await?;
            for (at, outcome) in group.positions.into_iter().zip(written) {
                outcomes[at] = Some(outcome);
            }
        }
        for group in issued {
            let events = take_same(&mut events, &group.route);
            group
                .route
                .batches
                .write_batch(&[], &group.members, &events, &jobs_of(&group.route))
                .await?;
        }
        for group in events {
            group
                .route
                .batches
                .write_batch(&[], &[], &group.members, &jobs_of(&group.route))
                .await?;
        }
        let main_jobs = jobs_of(&Route::Main(&self.main));
        if !main_jobs.is_empty() {
            self.main
                .batches
                .write_batch(&[], &[], &[], &main_jobs)
                .await?;
        }
        for job in &own_jobs {
            match self.main.jobs.enqueue(job.tenant_id, job).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }
}

/// Takes out of `groups` the members bound for the store of `route`, if there are any.
fn take_same<T>(groups: &mut Vec<Group<'_, T>>, route: &Route<'_>) -> Vec<T> {
    match groups.iter().position(|g| g.route.same_as(route)) {
        Some(at) => groups.swap_remove(at).members,
        None => Vec::new(),
    }
}

#[async_trait]
impl TenantRepo for Placements {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
        if tenant.placement != Placement::NEW_DATABASE {
            self.main.tenants.create(tenant).await?;
            self.forget(tenant.id);
            return Ok(());
        }
        let database = self.databases.create(tenant.id).await?;
        let placed = Tenant {
            placement: Placement::Dedicated {
                database: Some(database.seal(tenant.id, &self.key)),
            },
            ..tenant.clone()
        };
        let created = async {
            let own = self
                .databases
                .open(&database, true)
                .await
                .map_err(|e| crate::store::StoreError::Unavailable(e.to_string()))?;
            // The tenant's row in its own database, which its rows refer to.
            own.tenants
                .create(&Tenant {
                    placement: Placement::Shared,
                    ..tenant.clone()
                })
                .await?;
            drop(own);
            self.main.tenants.create(&placed).await
        }
        .await;
        self.forget(tenant.id);
        if let Err(e) = created {
            if let Err(cleanup) = self.databases.drop(&database).await {
                tracing::error!(tenant = %tenant.slug, error = %cleanup, "cannot remove the database of a tenant that was not created");
            }
            return Err(e);
        }
        Ok(())
    }

    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        self.main.tenants.by_slug(slug).await
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.main.tenants.by_id(id).await
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let call = self.main.tenants.update(tenant);
        match self.of(tenant.id).await? {
            Route::Main(_) => call.await,
            // The tenant's audit events belong in its own database.
            Route::Own(_) => audited::apart(call).await,
        }
    }

    async fn place(&self, id: TenantId, placement: &Placement) -> StoreResult<()> {
        let placed = self.main.tenants.place(id, placement).await;
        self.forget(id);
        placed
    }

    async fn list(
        &self,
        text: Option<&str>,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<Tenant>> {
        self.main.tenants.list(text, after, limit).await
    }

    /// A tenant with a database of its own loses it first: should that fail, the tenant is
    /// still there and the deletion can be repeated.
    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        let Some(tenant) = self.main.tenants.by_id(id).await? else {
            return Ok(false);
        };
        if let Placement::Dedicated {
            database: Some(sealed),
        } = &tenant.placement
        {
            let database = super::TenantDatabase::unseal(sealed, id, &self.key)?;
            self.forget(id);
            self.databases.drop(&database).await?;
        }
        let deleted = self.main.tenants.delete(id).await;
        self.forget(id);
        deleted
    }
}
