//! `tessera tenant move`: a tenant's data from the main store to a database of its own, or
//! back. The caller suspends the tenant first (`admin::tenants::relocate`: its pages and
//! endpoints then answer that it is unavailable, so nothing changes under the copy); the
//! registry then points at the copy, and the source is deleted once every process has had time
//! to see the switch.
//!
//! The copy goes through the repository contract, so it works between any two backends:
//! roles, teams and members, people with their role assignments, second factors, consents and
//! browser sign-ins, applications, signing keys and the audit log. Short-lived protocol
//! records (login flows, codes, token records, counters) are not copied: applications ask
//! their users to sign in again, as after a refresh token expires.

use super::{Placements, Route, TenantDatabase, PLACEMENT_STALE_SECS};
use crate::domain::{Placement, Tenant, TenantId, Timestamp};
use crate::store::{AuditQuery, Store, StoreError, StoreResult};
use std::time::Duration;

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
    pub events: usize,
}

impl Placements {
    /// Moves the suspended tenant to `to` (`Shared`, or `Dedicated` for a new database of its
    /// own), telling `progress` what it is doing. `None` when the tenant is there already.
    pub async fn move_tenant(
        &self,
        id: TenantId,
        to: Placement,
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
            Placement::Shared => self.to_own_database(&tenant, &source, progress).await?,
            Placement::Dedicated { database } => {
                self.to_main_store(&tenant, &source, database.as_deref(), progress)
                    .await?
            }
        };
        Ok(Some(moved))
    }

    async fn to_own_database(
        &self,
        tenant: &Tenant,
        source: &Route<'_>,
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
            copy(source, &own, tenant.id, progress).await
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
        let jobs = self.main.jobs.pending(tenant.id).await?;
        let placed = Tenant {
            placement: Placement::Dedicated {
                database: Some(database.seal(tenant.id, &self.key)),
            },
            ..tenant.clone()
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

    async fn to_main_store(
        &self,
        tenant: &Tenant,
        source: &Route<'_>,
        sealed: Option<&str>,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> StoreResult<Moved> {
        let sealed = sealed.ok_or_else(|| StoreError::Corrupt("no database recorded".into()))?;
        let database = TenantDatabase::unseal(sealed, tenant.id, &self.key)?;
        let moved = copy(source, &self.main, tenant.id, progress).await?;
        self.main
            .tenants
            .place(tenant.id, &Placement::Shared)
            .await?;
        self.forget(tenant.id);
        progress(&format!(
            "Switched to the main database; waiting {PLACEMENT_STALE_SECS}s before dropping {}",
            database.describe()
        ));
        tokio::time::sleep(Duration::from_secs(PLACEMENT_STALE_SECS + 1)).await;
        self.forget(tenant.id);
        self.databases.drop(&database).await?;
        Ok(moved)
    }
}

/// Copies every lasting record of `tenant` from one store to the other, which holds none yet.
async fn copy(
    from: &Store,
    to: &Store,
    tenant: TenantId,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> StoreResult<Moved> {
    let mut moved = Moved::default();
    for role in from.access.custom_roles(tenant).await? {
        to.access.create_role(tenant, &role).await?;
        moved.roles += 1;
    }
    let teams = from.access.teams(tenant).await?;
    for team in &teams {
        to.access.create_team(tenant, team).await?;
    }
    moved.teams = teams.len();
    let now = Timestamp::now();
    let mut after = None;
    loop {
        let people = from.users.list(tenant, after, PAGE).await?;
        let Some(last) = people.last() else {
            break;
        };
        after = Some(last.id);
        for person in &people {
            let roles = from.users.roles(tenant, person.id).await?;
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            to.users.create(tenant, person, &roles).await?;
            for factor in from.factors.of_user(tenant, person.id).await? {
                to.factors.add(tenant, &factor).await?;
                moved.factors += 1;
            }
            for consent in from.consents.of_user(tenant, person.id).await? {
                to.consents.upsert(tenant, &consent).await?;
                moved.consents += 1;
            }
            for session in from.sessions.of_user(tenant, person.id, now).await? {
                to.sessions.create(tenant, &session).await?;
                moved.sign_ins += 1;
            }
        }
        moved.people += people.len();
        progress(&format!("Copied {} people", moved.people));
    }
    for team in &teams {
        for member in from.access.members(tenant, team.id).await? {
            to.access.add_member(tenant, team.id, member).await?;
        }
    }
    for client in from.clients.list(tenant).await? {
        to.clients.create(tenant, &client).await?;
        moved.clients += 1;
    }
    // Oldest first, so each key finds the one it succeeded in place.
    for key in from.keys.list(tenant).await?.iter().rev() {
        to.keys.insert(tenant, key).await?;
        moved.keys += 1;
    }
    let query = AuditQuery::default();
    let mut before = None;
    loop {
        let events = from.audit.search(tenant, &query, before, PAGE).await?;
        let Some(last) = events.last() else {
            break;
        };
        before = Some(last.id);
        to.audit.append_all(&events).await?;
        moved.events += events.len();
    }
    progress(&format!(
        "Copied {} roles, {} teams, {} applications, {} signing keys and {} audit events",
        moved.roles, moved.teams, moved.clients, moved.keys, moved.events
    ));
    Ok(moved)
}
