//! `tessera tenant move`: a tenant's data from the main store to a database of its own, or
//! back. A first copy runs while the tenant serves. Then the caller suspends it
//! (`admin::tenants::relocate`: its pages and endpoints answer that it is unavailable, so
//! nothing changes under the second copy), what changed meanwhile is copied, the registry
//! points at the copy, and the source is deleted once every process has had time to see the
//! switch.
//!
//! The copy goes through the repository contract, so it works between any two backends:
//! roles, teams and members, people with their role assignments, second factors, consents,
//! browser sign-ins and linked upstream identities, connections to upstream identity
//! providers, applications, signing keys, API keys, webhook endpoints, the audit log and
//! refresh tokens. Short-lived protocol records (login flows, codes, access-token records,
//! counters) are not copied: sign-ins in progress start again, and applications refresh their
//! access tokens. Nor is the webhooks' delivery log: the moved tenant starts with an empty one.

use super::{Placements, TenantDatabase, PLACEMENT_STALE_SECS};
use crate::domain::{
    KeyState, LinkedIdentity, Placement, Tenant, TenantId, Timestamp, User, UserId,
};
use crate::store::{AuditQuery, Store, StoreError, StoreResult};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;
use uuid::Uuid;

/// Rows read per page while copying.
const PAGE: u32 = 500;

/// What a move copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub people: usize,
    pub factors: usize,
    pub consents: usize,
    pub sign_ins: usize,
    pub roles: usize,
    pub teams: usize,
    pub clients: usize,
    pub keys: usize,
    pub api_keys: usize,
    pub initial_tokens: usize,
    pub connections: usize,
    pub linked_identities: usize,
    pub webhook_endpoints: usize,
    pub events: usize,
    pub refresh_tokens: usize,
}

impl Placements {
    /// Moves the tenant to `to` (`Shared`, or `Dedicated` for a new database of its own),
    /// telling `progress` what it is doing: a first copy while it serves, then `freeze`
    /// (which suspends it, until every process knows), the copy of what changed meanwhile,
    /// and the switch. `None` when the tenant is there already.
    pub async fn move_tenant(
        &self,
        id: TenantId,
        to: Placement,
        freeze: impl Future<Output = StoreResult<()>> + Send,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> StoreResult<Option<Moved>> {
        let tenant = self
            .main
            .tenants
            .by_id(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if tenant.placement.is_dedicated() == to.is_dedicated() {
            return Ok(None);
        }
        let source = self.of(id).await?;
        let moved = match &tenant.placement {
            Placement::Shared => {
                self.to_own_database(&tenant, &source, freeze, progress)
                    .await?
            }
            Placement::Dedicated { database } => {
                let sealed = database
                    .as_deref()
                    .ok_or_else(|| StoreError::Corrupt("no database recorded".into()))?;
                let database = TenantDatabase::unseal(sealed, id, &self.key)?;
                self.to_main_store(id, &source, &database, freeze, progress)
                    .await?
            }
        };
        Ok(Some(moved))
    }

    async fn to_own_database(
        &self,
        tenant: &Tenant,
        source: &Store,
        freeze: impl Future<Output = StoreResult<()>> + Send,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> StoreResult<Moved> {
        let database = self.databases.create(tenant.id).await?;
        progress(&format!("Created {}", database.describe()));
        let copied = async {
            let own = self
                .databases
                .open(&database, true)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            own.tenants
                .create(&Tenant {
                    placement: Placement::Shared,
                    ..tenant.clone()
                })
                .await?;
            copy_twice(source, &own, tenant.id, freeze, progress).await
        }
        .await;
        let moved = match copied {
            Ok(moved) => moved,
            Err(e) => {
                if let Err(cleanup) = self.databases.drop(&database).await {
                    tracing::error!(tenant = %tenant.slug, error = %cleanup, "cannot remove the database of a move that failed");
                }
                return Err(e);
            }
        };
        // The switch, and the end of the tenant's rows in the main store: the registry row is
        // written anew, pointing at the copy, after everything of the tenant is deleted there.
        // Its queued jobs live in the main store and are kept.
        let current = self
            .main
            .tenants
            .by_id(tenant.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let jobs = self.main.jobs.pending(tenant.id).await?;
        let placed = Tenant {
            placement: Placement::Dedicated {
                database: Some(database.seal(tenant.id, &self.key)),
            },
            ..current
        };
        self.main.tenants.delete(tenant.id).await?;
        self.main.tenants.create(&placed).await?;
        for job in &jobs {
            self.main.jobs.enqueue(tenant.id, job).await?;
        }
        self.forget(tenant.id);
        progress("Switched to its own database; its rows in the main database are deleted");
        Ok(moved)
    }

    /// A failure before the switch leaves the tenant where it was; rows already copied to
    /// the main store are brought up to date by running the move again.
    async fn to_main_store(
        &self,
        id: TenantId,
        source: &Store,
        database: &TenantDatabase,
        freeze: impl Future<Output = StoreResult<()>> + Send,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> StoreResult<Moved> {
        let moved = copy_twice(source, &self.main, id, freeze, progress).await?;
        self.main.tenants.place(id, &Placement::Shared).await?;
        self.forget(id);
        progress(&format!(
            "Switched to the main database; waiting {PLACEMENT_STALE_SECS}s before dropping {}",
            database.describe()
        ));
        tokio::time::sleep(Duration::from_secs(PLACEMENT_STALE_SECS + 1)).await;
        self.forget(id);
        self.databases.drop(database).await?;
        Ok(moved)
    }
}

/// The copy of a move: everything while the tenant serves, then, once `freeze` has
/// suspended it, what changed meanwhile.
async fn copy_twice(
    from: &Store,
    to: &Store,
    tenant: TenantId,
    freeze: impl Future<Output = StoreResult<()>> + Send,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> StoreResult<Moved> {
    let online = sync(from, to, tenant, progress).await?;
    freeze.await?;
    let mut last = sync(from, to, tenant, progress).await?;
    last.events += online.events;
    last.refresh_tokens = copy_refresh_tokens(from, to, tenant).await?;
    Ok(last)
}

/// Makes `to`'s lasting records of `tenant` those of `from`: what `to` lacks is written,
/// what differs is replaced, what `from` no longer has is deleted. The first pass, while the
/// tenant serves, finds `to` empty and copies everything; the second, while it is suspended,
/// writes only what changed in between, so the suspension lasts about as long as reading the
/// tenant once.
async fn sync(
    from: &Store,
    to: &Store,
    tenant: TenantId,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> StoreResult<Moved> {
    let mut moved = Moved::default();
    let theirs = from.access.custom_roles(tenant).await?;
    let ours = by_key(to.access.custom_roles(tenant).await?, |r| r.id.clone());
    for role in &theirs {
        match ours.get(&role.id) {
            None => to.access.create_role(tenant, role).await?,
            Some(mine) if mine != role => to.access.update_role(tenant, role).await?,
            Some(_) => {}
        }
    }
    for id in ours
        .keys()
        .filter(|id| !theirs.iter().any(|r| &r.id == *id))
    {
        to.access.delete_role(tenant, id).await?;
    }
    moved.roles = theirs.len();

    let teams = from.access.teams(tenant).await?;
    let ours = by_key(to.access.teams(tenant).await?, |t| t.id);
    for team in &teams {
        match ours.get(&team.id) {
            None => to.access.create_team(tenant, team).await?,
            Some(mine) if mine != team => to.access.update_team(tenant, team).await?,
            Some(_) => {}
        }
    }
    for id in ours.keys().filter(|id| !teams.iter().any(|t| &t.id == *id)) {
        to.access.delete_team(tenant, *id).await?;
    }
    moved.teams = teams.len();

    // Before the people, whose links name them.
    let connections = sync_connections(from, to, tenant).await?;
    moved.connections = connections.len();

    let now = Timestamp::now();
    let mut people = HashSet::new();
    let mut after = None;
    loop {
        let page = from.users.list(tenant, after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        for person in &page {
            people.insert(person.id);
            sync_person(from, to, tenant, person, now, &mut moved).await?;
            moved.linked_identities +=
                sync_links(from, to, tenant, person.id, &connections).await?;
        }
        moved.people += page.len();
        progress(&format!("Copied {} people", moved.people));
    }
    let mut after = None;
    loop {
        let page = to.users.list(tenant, after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        for gone in page.iter().filter(|p| !people.contains(&p.id)) {
            to.users.delete(tenant, gone.id).await?;
        }
    }

    for team in &teams {
        let theirs = from.access.members(tenant, team.id).await?;
        let ours = to.access.members(tenant, team.id).await?;
        for member in theirs.iter().filter(|m| !ours.contains(m)) {
            to.access.add_member(tenant, team.id, *member).await?;
        }
        for member in ours.iter().filter(|m| !theirs.contains(m)) {
            to.access.remove_member(tenant, team.id, *member).await?;
        }
    }

    let clients = from.clients.list(tenant).await?;
    let ours = by_key(to.clients.list(tenant).await?, |c| c.client_id.clone());
    for client in &clients {
        match ours.get(&client.client_id) {
            None => to.clients.create(tenant, client).await?,
            Some(mine) if mine != client => to.clients.update(tenant, client).await?,
            Some(_) => {}
        }
    }
    for id in ours
        .keys()
        .filter(|id| !clients.iter().any(|c| &c.client_id == *id))
    {
        to.clients.delete(tenant, id).await?;
    }
    moved.clients = clients.len();

    let keys = from.keys.list(tenant).await?;
    let ours = by_key(to.keys.list(tenant).await?, |k| k.kid.clone());
    // Oldest first, so each key finds the one it succeeds in place.
    for key in keys.iter().rev() {
        match ours.get(&key.kid) {
            None => to.keys.insert(tenant, key).await?,
            // Rotated in between: the next key became the active one.
            Some(mine) if mine.state == KeyState::Next && key.state == KeyState::Active => {
                let retire_until = keys
                    .iter()
                    .filter(|k| k.alg == key.alg && k.state == KeyState::Retired)
                    .filter_map(|k| k.retires_at)
                    .max()
                    .unwrap_or(now);
                to.keys
                    .promote(tenant, key.alg, &key.kid, retire_until)
                    .await?;
            }
            Some(_) => {}
        }
    }
    moved.keys = keys.len();

    // API keys are never deleted; in between, one may have been used or revoked.
    let api_keys = from.api_keys.list(tenant).await?;
    let ours = by_key(to.api_keys.list(tenant).await?, |k| k.id);
    for key in &api_keys {
        let Some(mine) = ours.get(&key.id) else {
            to.api_keys.create(tenant, key).await?;
            continue;
        };
        if let (None, Some(at)) = (mine.revoked_at, key.revoked_at) {
            to.api_keys.revoke(tenant, key.id, at).await?;
        }
        if let Some(used) = key
            .last_used_at
            .filter(|_| mine.last_used_at != key.last_used_at)
        {
            to.api_keys.record_use(tenant, key.id, used, used).await?;
        }
    }
    moved.api_keys = api_keys.len();

    // Initial access tokens are never deleted; in between, one may have been used or revoked.
    let tokens = from.initial_tokens.list(tenant).await?;
    let ours = by_key(to.initial_tokens.list(tenant).await?, |t| t.id);
    for token in &tokens {
        let Some(mine) = ours.get(&token.id) else {
            to.initial_tokens.create(tenant, token).await?;
            continue;
        };
        // Spending counts one use at a time; at its creation the token could still be used.
        for _ in mine.uses..token.uses {
            (to.initial_tokens)
                .spend(tenant, &token.hash, token.created_at)
                .await?;
        }
        if let (None, Some(at)) = (mine.revoked_at, token.revoked_at) {
            to.initial_tokens.revoke(tenant, token.id, at).await?;
        }
    }
    moved.initial_tokens = tokens.len();

    // Endpoints change as deliveries succeed and fail; their delivery log stays behind.
    let endpoints = from.webhooks.endpoints(tenant).await?;
    let ours = by_key(to.webhooks.endpoints(tenant).await?, |e| e.id);
    for endpoint in &endpoints {
        match ours.get(&endpoint.id) {
            None => to.webhooks.create_endpoint(tenant, endpoint).await?,
            Some(mine) if mine != endpoint => {
                to.webhooks.update_endpoint(tenant, endpoint).await?;
            }
            Some(_) => {}
        }
    }
    for id in ours
        .keys()
        .filter(|id| !endpoints.iter().any(|e| &e.id == *id))
    {
        to.webhooks.delete_endpoint(tenant, *id).await?;
    }
    moved.webhook_endpoints = endpoints.len();

    moved.events = sync_audit(from, to, tenant).await?;
    progress(&format!(
        "Copied {} roles, {} teams, {} connections, {} applications, {} signing keys, {} API keys, {} initial access tokens, {} webhook endpoints and {} audit events",
        moved.roles,
        moved.teams,
        moved.connections,
        moved.clients,
        moved.keys,
        moved.api_keys,
        moved.initial_tokens,
        moved.webhook_endpoints,
        moved.events
    ));
    Ok(moved)
}

/// Makes `to`'s connections `from`'s; returns the ids of those it holds now.
async fn sync_connections(
    from: &Store,
    to: &Store,
    tenant: TenantId,
) -> StoreResult<HashSet<Uuid>> {
    let connections = from.connections.list(tenant).await?;
    let ours = by_key(to.connections.list(tenant).await?, |c| c.id);
    // Deletions first: a deleted connection's slug may have passed to a new one.
    for id in ours
        .keys()
        .filter(|id| !connections.iter().any(|c| &c.id == *id))
    {
        to.connections.delete(tenant, *id).await?;
    }
    for connection in &connections {
        match ours.get(&connection.id) {
            None => to.connections.create(tenant, connection).await?,
            Some(mine) if mine != connection => to.connections.update(tenant, connection).await?,
            Some(_) => {}
        }
    }
    Ok(connections.iter().map(|c| c.id).collect())
}

/// One person's linked upstream identities, those of `connections`: a link made through a
/// connection newer than the copy's arrives with the next copy.
async fn sync_links(
    from: &Store,
    to: &Store,
    tenant: TenantId,
    person: UserId,
    connections: &HashSet<Uuid>,
) -> StoreResult<usize> {
    let key = |l: &LinkedIdentity| (l.connection_id, l.subject.clone());
    let links: Vec<_> = from
        .connections
        .links_of(tenant, person)
        .await?
        .into_iter()
        .filter(|l| connections.contains(&l.connection_id))
        .collect();
    let ours = by_key(to.connections.links_of(tenant, person).await?, key);
    for gone in ours
        .values()
        .filter(|mine| !links.iter().any(|l| key(l) == key(mine)))
    {
        (to.connections)
            .unlink(tenant, person, gone.connection_id, &gone.subject)
            .await?;
    }
    for link in links.iter().filter(|l| ours.get(&key(l)) != Some(*l)) {
        relink(to, tenant, link).await?;
    }
    Ok(links.len())
}

/// Links the upstream identity in `to` as `link` says, in place of whoever holds it there: an
/// older link of the same person, or another person's link that passed to this one meanwhile.
async fn relink(to: &Store, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<()> {
    let connections = &to.connections;
    let subject = &link.subject;
    if let Some(held) = connections
        .linked(tenant, link.connection_id, subject)
        .await?
    {
        connections
            .unlink(tenant, held.user_id, link.connection_id, subject)
            .await?;
    }
    connections.link(tenant, link).await
}

/// One person: their record and roles, second factors, consents and sign-ins.
async fn sync_person(
    from: &Store,
    to: &Store,
    tenant: TenantId,
    person: &User,
    now: Timestamp,
    moved: &mut Moved,
) -> StoreResult<()> {
    let roles = from.users.roles(tenant, person.id).await?;
    match to.users.by_id(tenant, person.id).await? {
        None => {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            to.users.create(tenant, person, &roles).await?;
        }
        Some(mine) => {
            if mine != *person {
                to.users.update(tenant, person).await?;
            }
            if let Some(at) = person
                .last_login_at
                .filter(|at| mine.last_login_at < Some(*at))
            {
                to.users.record_login(tenant, person.id, at).await?;
            }
            let held = to.users.roles(tenant, person.id).await?;
            for role in roles.iter().filter(|r| !held.contains(r)) {
                to.access.assign_role(tenant, person.id, role).await?;
            }
            for role in held.iter().filter(|r| !roles.contains(r)) {
                to.access.unassign_role(tenant, person.id, role).await?;
            }
        }
    }

    let factors = from.factors.of_user(tenant, person.id).await?;
    let ours = by_key(to.factors.of_user(tenant, person.id).await?, |f| {
        f.id.clone()
    });
    for factor in &factors {
        match ours.get(&factor.id) {
            None => to.factors.add(tenant, factor).await?,
            Some(mine) if mine != factor => {
                to.factors.remove(tenant, person.id, &factor.id).await?;
                to.factors.add(tenant, factor).await?;
            }
            Some(_) => {}
        }
    }
    for id in ours
        .keys()
        .filter(|id| !factors.iter().any(|f| &f.id == *id))
    {
        to.factors.remove(tenant, person.id, id).await?;
    }
    moved.factors += factors.len();

    let consents = from.consents.of_user(tenant, person.id).await?;
    let ours = by_key(to.consents.of_user(tenant, person.id).await?, |c| {
        c.client_id.clone()
    });
    for consent in &consents {
        if ours.get(&consent.client_id) != Some(consent) {
            to.consents.upsert(tenant, consent).await?;
        }
    }
    for id in ours
        .keys()
        .filter(|id| !consents.iter().any(|c| &c.client_id == *id))
    {
        to.consents.revoke(tenant, person.id, id).await?;
    }
    moved.consents += consents.len();

    let sign_ins = from.sessions.of_user(tenant, person.id, now).await?;
    let ours = by_key(to.sessions.of_user(tenant, person.id, now).await?, |s| {
        s.id.clone()
    });
    for session in &sign_ins {
        match ours.get(&session.id) {
            None => to.sessions.create(tenant, session).await?,
            Some(mine) if mine.last_seen_at != session.last_seen_at => {
                to.sessions
                    .touch(tenant, &session.id, session.last_seen_at)
                    .await?
            }
            Some(_) => {}
        }
    }
    for id in ours
        .keys()
        .filter(|id| !sign_ins.iter().any(|s| &s.id == *id))
    {
        to.sessions.revoke(tenant, id, now).await?;
    }
    moved.sign_ins += sign_ins.len();
    Ok(())
}

/// Copies the refresh tokens that have not expired, with their state (spent, revoked), so
/// applications stay signed in and a spent token replayed later is still recognised. Only
/// while the tenant is suspended: tokens change with every use.
async fn copy_refresh_tokens(from: &Store, to: &Store, tenant: TenantId) -> StoreResult<usize> {
    let now = Timestamp::now();
    let (mut after, mut copied) = (None::<String>, 0);
    loop {
        let tokens = from
            .artifacts
            .refresh_tokens(tenant, now, after.as_deref(), PAGE)
            .await?;
        let Some(last) = tokens.last() else {
            return Ok(copied);
        };
        after = Some(last.token_hash.clone());
        for token in &tokens {
            // A move run again after a failure finds those it copied before.
            if to
                .artifacts
                .refresh_token(tenant, &token.token_hash)
                .await?
                .is_none()
            {
                to.artifacts.put_refresh_token(tenant, token).await?;
                copied += 1;
            }
        }
    }
}

/// Appends the events `to` lacks: those since its newest (the audit log only grows).
async fn sync_audit(from: &Store, to: &Store, tenant: TenantId) -> StoreResult<usize> {
    let newest = to.audit.recent(tenant, None, 1).await?.into_iter().next();
    let query = AuditQuery {
        from: newest.map(|e| e.at),
        ..AuditQuery::default()
    };
    let mut known = HashSet::new();
    let mut before = None;
    loop {
        let events = to.audit.search(tenant, &query, before, PAGE).await?;
        let Some(last) = events.last() else {
            break;
        };
        before = Some(last.id);
        known.extend(events.iter().map(|e| e.id));
    }
    let (mut before, mut copied) = (None, 0);
    loop {
        let events = from.audit.search(tenant, &query, before, PAGE).await?;
        let Some(last) = events.last() else {
            return Ok(copied);
        };
        before = Some(last.id);
        let new: Vec<_> = events
            .into_iter()
            .filter(|e| !known.contains(&e.id))
            .collect();
        to.audit.append_all(&new).await?;
        copied += new.len();
    }
}

fn by_key<T, K: Eq + Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> HashMap<K, T> {
    items.into_iter().map(|item| (key(&item), item)).collect()
}
