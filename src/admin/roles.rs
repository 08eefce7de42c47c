//! Roles and teams: custom roles with any set of permissions, assignments to people directly
//! or through teams. Nobody hands out more than they hold, and the last owner stays.

use super::access::{all_roles, keep_an_owner, Loss};
use super::{audited, event_of, Actor};
use crate::domain::access::OWNER;
use crate::domain::{Role, Team, Tenant, UserId};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use uuid::Uuid;

const ROLES: &str = "roles:manage";
const TEAMS: &str = "teams:manage";

/// Every role of the tenant, built-in first; anyone who manages roles, teams or users may read
/// them (the pickers need them).
pub async fn list(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Vec<Role>> {
    actor
        .require(tenant, ROLES)
        .or_else(|_| actor.require(tenant, TEAMS))
        .or_else(|_| actor.require(tenant, "users:read"))?;
    all_roles(state, tenant).await
}

async fn find(state: &AppState, tenant: &Tenant, id: &str) -> AppResult<Role> {
    all_roles(state, tenant)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

fn custom(role: &Role) -> AppResult<()> {
    if role.built_in {
        return Err(AppError::invalid(
            "Built-in roles cannot be changed or deleted; create a custom role instead.",
        ));
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    name: &str,
    description: &str,
    permissions: &[String],
) -> AppResult<Role> {
    actor.require(tenant, ROLES)?;
    let role = Role::new(name, description, permissions)?;
    actor.outranks(std::slice::from_ref(&role))?;
    let event = event_of(
        actor,
        tenant.id,
        "role.created",
        format!("role:{}", role.id),
    )
    .reason(permissions_detail(&role));
    let change = state.store.access.create_role(tenant.id, &role);
    audited(state, actor, event, change).await?;
    Ok(role)
}

fn permissions_detail(role: &Role) -> String {
    let list: Vec<&str> = role.permissions.iter().map(|p| p.as_str()).collect();
    format!("name={} permissions={}", role.name, list.join(","))
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: &str,
    name: &str,
    description: &str,
    permissions: &[String],
) -> AppResult<Role> {
    actor.require(tenant, ROLES)?;
    let mut role = find(state, tenant, id).await?;
    custom(&role)?;
    actor.outranks(std::slice::from_ref(&role))?;
    role.set(name, description, permissions)?;
    actor.outranks(std::slice::from_ref(&role))?;
    let event = event_of(
        actor,
        tenant.id,
        "role.updated",
        format!("role:{}", role.id),
    )
    .reason(permissions_detail(&role));
    let change = state.store.access.update_role(tenant.id, &role);
    audited(state, actor, event, change).await?;
    Ok(role)
}

pub async fn delete(state: &AppState, actor: &Actor, tenant: &Tenant, id: &str) -> AppResult<()> {
    actor.require(tenant, ROLES)?;
    let role = find(state, tenant, id).await?;
    custom(&role)?;
    actor.outranks(std::slice::from_ref(&role))?;
    let _owner_kept = keep_an_owner(state, tenant, Loss::Role(id)).await?;
    let event = event_of(actor, tenant.id, "role.deleted", format!("role:{id}"));
    let change = state.store.access.delete_role(tenant.id, id);
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn existing_user(state: &AppState, tenant: &Tenant, user: UserId) -> AppResult<()> {
    state
        .store
        .users
        .by_id(tenant.id, user)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

pub async fn assign(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    user: UserId,
    role: &str,
) -> AppResult<()> {
    actor.require(tenant, ROLES)?;
    let role = find(state, tenant, role).await?;
    existing_user(state, tenant, user).await?;
    actor.outranks(std::slice::from_ref(&role))?;
    let event = event_of(actor, tenant.id, "role.assigned", format!("user:{user}"))
        .reason(format!("role={}", role.id));
    let change = state.store.access.assign_role(tenant.id, user, &role.id);
    audited(state, actor, event, change).await?;
    Ok(())
}

pub async fn unassign(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    user: UserId,
    role: &str,
) -> AppResult<()> {
    actor.require(tenant, ROLES)?;
    let role = find(state, tenant, role).await?;
    existing_user(state, tenant, user).await?;
    actor.outranks(std::slice::from_ref(&role))?;
    let _owner_kept = if role.id == OWNER {
        Some(keep_an_owner(state, tenant, Loss::DirectOwner(user)).await?)
    } else {
        None
    };
    let event = event_of(actor, tenant.id, "role.unassigned", format!("user:{user}"))
        .reason(format!("role={}", role.id));
    let change = state.store.access.unassign_role(tenant.id, user, &role.id);
    audited(state, actor, event, change).await?;
    Ok(())
}

/// Teams with their roles, by name.
pub async fn teams(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Vec<Team>> {
    actor
        .require(tenant, TEAMS)
        .or_else(|_| actor.require(tenant, "users:read"))?;
    Ok(state.store.access.teams(tenant.id).await?)
}

pub async fn team(state: &AppState, actor: &Actor, tenant: &Tenant, id: Uuid) -> AppResult<Team> {
    teams(state, actor, tenant)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)
}

/// The teams each of `users` is a member of, in their order (`users:read`, as reading them).
/// The tenant's teams are read once, however many users.
pub async fn teams_of(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    users: &[UserId],
) -> AppResult<Vec<Vec<Team>>> {
    actor.require(tenant, "users:read")?;
    let teams = state.store.access.teams(tenant.id).await?;
    let mut found = Vec::with_capacity(users.len());
    for user in users {
        let ids = state.store.access.teams_of(tenant.id, *user).await?;
        found.push(
            teams
                .iter()
                .filter(|t| ids.contains(&t.id))
                .cloned()
                .collect(),
        );
    }
    Ok(found)
}

/// The team's roles, which acting on the team (or its members) hands out or takes away.
async fn team_roles(state: &AppState, tenant: &Tenant, team: &Team) -> AppResult<Vec<Role>> {
    Ok(all_roles(state, tenant)
        .await?
        .into_iter()
        .filter(|r| team.roles.contains(&r.id))
        .collect())
}

pub async fn create_team(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    name: &str,
    description: &str,
) -> AppResult<Team> {
    actor.require(tenant, TEAMS)?;
    let team = Team::new(name, description)?;
    let event = event_of(
        actor,
        tenant.id,
        "team.created",
        format!("team:{}", team.id),
    );
    let change = state.store.access.create_team(tenant.id, &team);
    audited(state, actor, event, change).await?;
    Ok(team)
}

/// Renames the team and sets its roles.
pub async fn update_team(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    name: &str,
    description: &str,
    roles: &[String],
) -> AppResult<Team> {
    actor.require(tenant, TEAMS)?;
    let mut team = team(state, actor, tenant, id).await?;
    let known = all_roles(state, tenant).await?;
    let mut wanted = Vec::new();
    for id in roles {
        let role = known
            .iter()
            .find(|r| &r.id == id)
            .ok_or_else(|| AppError::invalid(format!("There is no role {id:?}.")))?;
        if !wanted.contains(&role.id) {
            wanted.push(role.id.clone());
        }
    }
    // Both the roles given and those taken away must be the actor's to hand out.
    let changed: Vec<Role> = known
        .into_iter()
        .filter(|r| wanted.contains(&r.id) != team.roles.contains(&r.id))
        .collect();
    actor.outranks(&changed)?;
    let loses_owner = changed.iter().any(|r| r.id == OWNER) && !wanted.iter().any(|r| r == OWNER);
    let _owner_kept = if loses_owner {
        Some(keep_an_owner(state, tenant, Loss::Team(id)).await?)
    } else {
        None
    };
    team.rename(name, description)?;
    team.roles = wanted;
    let event = event_of(actor, tenant.id, "team.updated", format!("team:{id}")).reason(format!(
        "name={} roles={}",
        team.name,
        team.roles.join(",")
    ));
    let change = state.store.access.update_team(tenant.id, &team);
    audited(state, actor, event, change).await?;
    Ok(team)
}

pub async fn delete_team(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
) -> AppResult<()> {
    actor.require(tenant, TEAMS)?;
    let team = team(state, actor, tenant, id).await?;
    actor.outranks(&team_roles(state, tenant, &team).await?)?;
    let _owner_kept = keep_an_owner(state, tenant, Loss::Team(id)).await?;
    let event = event_of(actor, tenant.id, "team.deleted", format!("team:{id}"));
    let change = state.store.access.delete_team(tenant.id, id);
    audited(state, actor, event, change).await?;
    Ok(())
}

pub async fn members(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
) -> AppResult<Vec<UserId>> {
    team(state, actor, tenant, id).await?;
    Ok(state.store.access.members(tenant.id, id).await?)
}

pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    user: UserId,
) -> AppResult<()> {
    actor.require(tenant, TEAMS)?;
    let team = team(state, actor, tenant, id).await?;
    existing_user(state, tenant, user).await?;
    actor.outranks(&team_roles(state, tenant, &team).await?)?;
    let event = event_of(
        actor,
        tenant.id,
        "team.member_added",
        format!("user:{user}"),
    )
    .reason(format!("team={id}"));
    let change = state.store.access.add_member(tenant.id, id, user);
    audited(state, actor, event, change).await?;
    Ok(())
}

pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    id: Uuid,
    user: UserId,
) -> AppResult<()> {
    actor.require(tenant, TEAMS)?;
    let team = team(state, actor, tenant, id).await?;
    actor.outranks(&team_roles(state, tenant, &team).await?)?;
    let _owner_kept = keep_an_owner(state, tenant, Loss::Membership(id, user)).await?;
    let event = event_of(
        actor,
        tenant.id,
        "team.member_removed",
        format!("user:{user}"),
    )
    .reason(format!("team={id}"));
    let change = state.store.access.remove_member(tenant.id, id, user);
    audited(state, actor, event, change).await?;
    Ok(())
}
