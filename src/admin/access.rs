//! Who is acting, and what they may do. Every console use case starts here: the permission
//! check happens on the server, whatever the page showed.

use super::Actor;
use crate::domain::RequestMeta;
use crate::domain::{access, acr, Grants, Role, Tenant, TenantId, User, UserId, UserSession};
use crate::error::{AppError, AppResult};
use crate::state::{lease::Lease, AppState};
use std::{collections::BTreeSet, time::Duration};
use uuid::Uuid;

/// A signed-in person acting in their tenant's console.
#[derive(Clone, Debug)]
pub struct Member {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub email: String,
    pub grants: Grants,
    /// Signed in recently enough for sensitive actions, with a second factor if they have one.
    pub fresh: bool,
    pub meta: RequestMeta,
}

/// Another system acting through the management API with an API key of its tenant, or an
/// application with an access token of its own. Neither needs a recent sign-in: they are
/// bounded by their permissions and expiry instead.
#[derive(Clone, Debug)]
pub struct KeyHolder {
    pub tenant_id: TenantId,
    pub credential: Credential,
    pub grants: Grants,
    pub meta: RequestMeta,
}

#[derive(Clone, Debug)]
pub enum Credential {
    /// The id of the API key.
    ApiKey(Uuid),
    /// The `client_id` of an application with a client-credentials access token, or with its
    /// registration access token (RFC 7592).
    Application(String),
    /// An application registering itself (RFC 7591), with the id of the initial access token
    /// it presented, if any.
    Registration(Option<Uuid>),
}

impl Actor {
    /// Allows the action when the actor holds `permission` in `tenant`; anyone else gets
    /// `Forbidden` (a member or key of another tenant included).
    pub fn require(&self, tenant: &Tenant, permission: &str) -> AppResult<()> {
        match self {
            Actor::Cli => Ok(()),
            Actor::Member(m) if m.tenant_id == tenant.id && m.grants.allows(permission) => Ok(()),
            Actor::Key(k) if k.tenant_id == tenant.id && k.grants.allows(permission) => Ok(()),
            Actor::Member(_) | Actor::Key(_) => Err(AppError::Forbidden),
        }
    }

    /// What the actor may hand on; `None` for the command line, which may hand on anything.
    pub fn grants(&self) -> Option<&Grants> {
        match self {
            Actor::Cli => None,
            Actor::Member(m) => Some(&m.grants),
            Actor::Key(k) => Some(&k.grants),
        }
    }

    /// Sensitive actions (deleting users, rotating secrets, changing policies) also need a
    /// recent sign-in, with a second factor when the person has one.
    pub fn require_fresh(&self, tenant: &Tenant, permission: &str) -> AppResult<()> {
        self.require(tenant, permission)?;
        match self {
            Actor::Member(m) if !m.fresh => Err(AppError::Reauthenticate),
            _ => Ok(()),
        }
    }

    /// Nobody hands out, or acts on someone holding, more than they hold themselves.
    pub fn outranks(&self, roles: &[Role]) -> AppResult<()> {
        match self.grants() {
            Some(grants) if !roles.iter().all(|r| grants.include(&r.permissions)) => {
                Err(AppError::Forbidden)
            }
            _ => Ok(()),
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::Member(m) => Some(m.user_id),
            Actor::Cli | Actor::Key(_) => None,
        }
    }
}

/// The person signed in with `session`, as a console actor.
pub async fn member(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    session: &UserSession,
    meta: RequestMeta,
) -> AppResult<Member> {
    let grants = Grants::of(&effective_roles(state, tenant, user.id).await?);
    let has_factor = !state
        .store
        .factors
        .of_user(tenant.id, user.id)
        .await?
        .is_empty();
    let fresh = crate::auth::account::is_recent(session)
        && (!has_factor || acr::for_amr(&session.amr) == acr::MULTI_FACTOR);
    Ok(Member {
        tenant_id: tenant.id,
        user_id: user.id,
        email: user.email.to_string(),
        grants,
        fresh,
        meta,
    })
}

/// Built-in roles, then the tenant's custom roles.
pub async fn all_roles(state: &AppState, tenant: &Tenant) -> AppResult<Vec<Role>> {
    let mut roles = Role::built_in();
    roles.extend(state.store.access.custom_roles(tenant.id).await?);
    Ok(roles)
}

/// The roles a user holds, directly or through their teams.
pub async fn effective_roles(
    state: &AppState,
    tenant: &Tenant,
    user: UserId,
) -> AppResult<Vec<Role>> {
    let ids = effective_role_ids(state, tenant, user).await?;
    Ok(all_roles(state, tenant)
        .await?
        .into_iter()
        .filter(|r| ids.contains(&r.id))
        .collect())
}

async fn effective_role_ids(
    state: &AppState,
    tenant: &Tenant,
    user: UserId,
) -> AppResult<BTreeSet<String>> {
    let mut ids: BTreeSet<String> = state
        .store
        .users
        .roles(tenant.id, user)
        .await?
        .into_iter()
        .collect();
    let teams = state.store.access.teams_of(tenant.id, user).await?;
    if !teams.is_empty() {
        for team in state.store.access.teams(tenant.id).await? {
            if teams.contains(&team.id) {
                ids.extend(team.roles);
            }
        }
    }
    Ok(ids)
}

/// A change that could take the owner role away from someone.
#[derive(Clone, Copy, Debug)]
pub enum Loss<'a> {
    /// The user can no longer act at all (blocked or deleted).
    User(UserId),
    /// The user's direct owner role goes.
    DirectOwner(UserId),
    /// The team no longer grants the owner role (role removed, or team deleted).
    Team(Uuid),
    /// The user leaves the team.
    Membership(Uuid, UserId),
    /// A custom role (which could never be the owner role) is deleted: nothing to check.
    Role(&'a str),
}

/// Held while a change that could take away an owner is made: another such change of the
/// tenant, in any process of the installation, waits, so two admins removing the last two
/// owners at once cannot both pass the check.
#[must_use = "make the change while this is held"]
pub struct OwnerKept {
    _held: Lease,
}

/// Longer than any owner change takes; a process that dies holding the lease delays the
/// tenant's next owner change by at most this.
const OWNER_CHANGE_SECS: i64 = 30;
const OWNER_CHANGE_PATIENCE: Duration = Duration::from_secs(10);

/// Refuses a change that would leave the tenant without an active owner; allowed, it returns
/// the hold to keep until the change is made.
pub async fn keep_an_owner(
    state: &AppState,
    tenant: &Tenant,
    loss: Loss<'_>,
) -> AppResult<OwnerKept> {
    let held = OwnerKept {
        _held: Lease::acquire(
            &state.store.artifacts,
            tenant.id,
            "owner-changes",
            OWNER_CHANGE_SECS,
            OWNER_CHANGE_PATIENCE,
        )
        .await?,
    };
    if matches!(loss, Loss::Role(_)) {
        return Ok(held);
    }
    let mut owners: BTreeSet<UserId> = state
        .store
        .access
        .role_holders(tenant.id, access::OWNER)
        .await?
        .into_iter()
        .filter(|u| !matches!(loss, Loss::DirectOwner(lost) if lost == *u))
        .collect();
    for team in state.store.access.teams(tenant.id).await? {
        if !team.roles.iter().any(|r| r == access::OWNER)
            || matches!(loss, Loss::Team(t) if t == team.id)
        {
            continue;
        }
        for member in state.store.access.members(tenant.id, team.id).await? {
            if !matches!(loss, Loss::Membership(t, u) if t == team.id && u == member) {
                owners.insert(member);
            }
        }
    }
    if let Loss::User(lost) = loss {
        owners.remove(&lost);
    }
    for owner in owners {
        let user = state.store.users.by_id(tenant.id, owner).await?;
        if user.is_some_and(|u| u.can_sign_in()) {
            return Ok(held);
        }
    }
    Err(AppError::Conflict(
        "This would leave the organisation without an owner. Make someone else an owner first."
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantSlug;

    fn member(tenant: &Tenant, roles: &[Role], fresh: bool) -> Actor {
        Actor::Member(Member {
            tenant_id: tenant.id,
            user_id: UserId::generate(),
            email: "a@example.com".into(),
            grants: Grants::of(roles),
            fresh,
            meta: RequestMeta::default(),
        })
    }

    fn role(id: &str) -> Role {
        Role::built_in().into_iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn checks_tenant_permission_and_freshness() {
        let acme = Tenant::new(TenantSlug::parse("acme").unwrap(), "Acme").unwrap();
        let other = Tenant::new(TenantSlug::parse("other").unwrap(), "Other").unwrap();
        let admin = member(&acme, &[role(access::ADMIN)], true);
        assert!(admin.require(&acme, "users:write").is_ok());
        assert!(matches!(
            admin.require(&other, "users:read"),
            Err(AppError::Forbidden)
        ));
        let stale = member(&acme, &[role(access::ADMIN)], false);
        assert!(stale.require(&acme, "users:write").is_ok());
        assert!(matches!(
            stale.require_fresh(&acme, "users:write"),
            Err(AppError::Reauthenticate)
        ));
        let auditor = member(&acme, &[role(access::AUDITOR)], true);
        assert!(matches!(
            auditor.require_fresh(&acme, "users:write"),
            Err(AppError::Forbidden)
        ));
        assert!(admin.outranks(&[role(access::ADMIN)]).is_ok());
        assert!(admin.outranks(&[role(access::OWNER)]).is_err());
        assert!(Actor::Cli.require_fresh(&other, "*").is_ok());
    }
}
