//! Custom roles and teams. A user's directly held roles live in the user's document (`roles`),
//! a team's roles in the team's document; memberships are documents of their own. Names are
//! unique per tenant ignoring case through `name_key`, the lower-cased name.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{Role, Team, TenantId, UserId};
use crate::store::decode::{self, parse};
use crate::store::{AccessRepo, StoreError, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
struct RoleDoc {
    tenant_id: String,
    id: String,
    name: String,
    name_key: String,
    description: String,
    permissions: Vec<String>,
    created_at: DateTime,
}

impl RoleDoc {
    fn into_role(self) -> StoreResult<Role> {
        let permissions = self
            .permissions
            .iter()
            .map(|p| decode::permission(p))
            .collect::<StoreResult<_>>()?;
        Ok(Role {
            id: self.id,
            name: self.name,
            description: self.description,
            permissions,
            built_in: false,
            created_at: timestamp(self.created_at),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct TeamDoc {
    tenant_id: String,
    id: String,
    name: String,
    name_key: String,
    description: String,
    /// Sorted, without duplicates.
    roles: Vec<String>,
    created_at: DateTime,
}

impl TeamDoc {
    fn into_team(self) -> StoreResult<Team> {
        Ok(Team {
            id: parse(&self.id)?,
            name: self.name,
            description: self.description,
            roles: self.roles,
            created_at: timestamp(self.created_at),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct MemberDoc {
    tenant_id: String,
    team_id: String,
    user_id: String,
    created_at: DateTime,
}

fn permissions(role: &Role) -> Vec<String> {
    role.permissions
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect()
}

fn team_roles(team: &Team) -> Vec<String> {
    let mut roles = team.roles.clone();
    roles.sort();
    roles.dedup();
    roles
}

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

#[async_trait]
impl AccessRepo for MongoStore {
    async fn create_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        let document = RoleDoc {
            tenant_id: tenant.to_string(),
            id: role.id.clone(),
            name: role.name.clone(),
            name_key: name_key(&role.name),
            description: role.description.clone(),
            permissions: permissions(role),
            created_at: date(role.created_at),
        };
        self.collection::<RoleDoc>("roles")
            .insert_one(document)
            .await
            .map_err(conflict("a role with this name"))?;
        Ok(())
    }

    async fn custom_roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
        let cursor = self
            .collection::<RoleDoc>("roles")
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "name_key": 1, "id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(RoleDoc::into_role)
            .collect()
    }

    async fn update_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        let done = self
            .collection::<RoleDoc>("roles")
            .update_one(
                scoped(tenant, doc! { "id": &role.id }),
                doc! { "$set": {
                    "name": &role.name,
                    "name_key": name_key(&role.name),
                    "description": &role.description,
                    "permissions": permissions(role),
                } },
            )
            .await
            .map_err(conflict("a role with this name"))?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_role(&self, tenant: TenantId, id: &str) -> StoreResult<bool> {
        let done = self
            .collection::<RoleDoc>("roles")
            .delete_one(scoped(tenant, doc! { "id": id }))
            .await?;
        // Then its grants, also when the role was gone already: a retry finishes the job.
        for collection in ["users", "teams"] {
            self.collection::<Document>(collection)
                .update_many(
                    scoped(tenant, doc! { "roles": id }),
                    doc! { "$pull": { "roles": id } },
                )
                .await?;
        }
        Ok(done.deleted_count == 1)
    }

    async fn assign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let done = self
            .collection::<Document>("users")
            .update_one(
                scoped(
                    tenant,
                    doc! { "id": user.to_string(), "roles": { "$ne": role } },
                ),
                doc! { "$push": { "roles": role } },
            )
            .await?;
        if done.matched_count == 1 {
            return Ok(true);
        }
        if self
            .exists("users", scoped(tenant, doc! { "id": user.to_string() }))
            .await?
        {
            Ok(false)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn unassign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let done = self
            .collection::<Document>("users")
            .update_one(
                scoped(tenant, doc! { "id": user.to_string(), "roles": role }),
                doc! { "$pull": { "roles": role } },
            )
            .await?;
        Ok(done.matched_count == 1)
    }

    async fn role_holders(&self, tenant: TenantId, role: &str) -> StoreResult<Vec<UserId>> {
        self.strings(
            "users",
            scoped(tenant, doc! { "roles": role }),
            "id",
            doc! { "id": 1 },
        )
        .await?
        .iter()
        .map(|id| parse(id))
        .collect()
    }

    async fn create_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let document = TeamDoc {
            tenant_id: tenant.to_string(),
            id: team.id.to_string(),
            name: team.name.clone(),
            name_key: name_key(&team.name),
            description: team.description.clone(),
            roles: team_roles(team),
            created_at: date(team.created_at),
        };
        self.collection::<TeamDoc>("teams")
            .insert_one(document)
            .await
            .map_err(conflict("a team with this name"))?;
        Ok(())
    }

    async fn teams(&self, tenant: TenantId) -> StoreResult<Vec<Team>> {
        let cursor = self
            .collection::<TeamDoc>("teams")
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "name_key": 1, "id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(TeamDoc::into_team)
            .collect()
    }

    async fn update_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let done = self
            .collection::<TeamDoc>("teams")
            .update_one(
                scoped(tenant, doc! { "id": team.id.to_string() }),
                doc! { "$set": {
                    "name": &team.name,
                    "name_key": name_key(&team.name),
                    "description": &team.description,
                    "roles": team_roles(team),
                } },
            )
            .await
            .map_err(conflict("a team with this name"))?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_team(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        // The team first, so a membership added meanwhile finds it gone (see `add_member`).
        let done = self
            .collection::<TeamDoc>("teams")
            .delete_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?;
        self.collection::<MemberDoc>("team_members")
            .delete_many(scoped(tenant, doc! { "team_id": id.to_string() }))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn add_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let team_filter = scoped(tenant, doc! { "id": team.to_string() });
        let user_filter = scoped(tenant, doc! { "id": user.to_string() });
        if !self.exists("teams", team_filter.clone()).await?
            || !self.exists("users", user_filter.clone()).await?
        {
            return Err(StoreError::NotFound);
        }
        let membership = MemberDoc {
            tenant_id: tenant.to_string(),
            team_id: team.to_string(),
            user_id: user.to_string(),
            created_at: DateTime::now(),
        };
        match self
            .collection::<MemberDoc>("team_members")
            .insert_one(membership)
            .await
            .map_err(conflict("membership"))
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        // Deleting a team or user removes the parent before its memberships: if either went
        // while this one was added, take it back rather than leave it behind.
        if self.exists("teams", team_filter).await? && self.exists("users", user_filter).await? {
            return Ok(true);
        }
        self.collection::<MemberDoc>("team_members")
            .delete_one(scoped(
                tenant,
                doc! { "team_id": team.to_string(), "user_id": user.to_string() },
            ))
            .await?;
        Err(StoreError::NotFound)
    }

    async fn remove_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let done = self
            .collection::<MemberDoc>("team_members")
            .delete_one(scoped(
                tenant,
                doc! { "team_id": team.to_string(), "user_id": user.to_string() },
            ))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn members(&self, tenant: TenantId, team: Uuid) -> StoreResult<Vec<UserId>> {
        self.strings(
            "team_members",
            scoped(tenant, doc! { "team_id": team.to_string() }),
            "user_id",
            doc! { "created_at": 1, "user_id": 1 },
        )
        .await?
        .iter()
        .map(|id| parse(id))
        .collect()
    }

    async fn teams_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Uuid>> {
        self.strings(
            "team_members",
            scoped(tenant, doc! { "user_id": user.to_string() }),
            "team_id",
            doc! { "team_id": 1 },
        )
        .await?
        .iter()
        .map(|id| parse(id))
        .collect()
    }
}
