//! Custom roles and teams, one implementation for SQLite and PostgreSQL: their SQL agrees here,
//! and [`super::values`] stores ids and times alike on both.

/// Implements `AccessRepo` for a sqlx store (`$store`, whose rows are `$row`). The store's
/// `tenant(id)` gives where one tenant's statements run, `tenant_tx(id)` a transaction for
/// statements that take effect together.
macro_rules! access_repo {
    ($store:ident, $row:ty) => {
        mod access_statements {
            use super::$store;
            use crate::domain::{Permission, Role, Team, TenantId, Timestamp, UserId};
            use crate::store::sql::{conflict, found, missing_parent, Finish, Id};
            use crate::store::{AccessRepo, StoreResult};
            use sqlx::{types::Json, Database, Row};
            use uuid::Uuid;

            type Connection = <<$row as Row>::Database as Database>::Connection;

            fn role_from_row(row: &$row) -> StoreResult<Role> {
                Ok(Role {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    permissions: row.try_get::<Json<Vec<Permission>>, _>("permissions")?.0,
                    built_in: false,
                    created_at: row.try_get("created_at")?,
                })
            }

            async fn insert_team_roles(
                db: &mut Connection,
                tenant: TenantId,
                team: &Team,
            ) -> StoreResult<()> {
                for role in &team.roles {
                    sqlx::query(
                        "INSERT INTO team_roles (tenant_id, team_id, role) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant)
                    .bind(Id(team.id))
                    .bind(role)
                    .execute(&mut *db)
                    .await?;
                }
                Ok(())
            }

            #[async_trait::async_trait]
            impl AccessRepo for $store {
                async fn create_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO roles (tenant_id, id, name, description, permissions, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(tenant)
                    .bind(&role.id)
                    .bind(&role.name)
                    .bind(&role.description)
                    .bind(Json(&role.permissions))
                    .bind(role.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("a role with this name"))?;
                    Ok(tx.finish().await?)
                }

                async fn custom_roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM roles WHERE tenant_id = $1 ORDER BY lower(name), id",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(role_from_row).collect()
                }

                async fn update_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE roles SET name = $1, description = $2, permissions = $3
                         WHERE tenant_id = $4 AND id = $5",
                    )
                    .bind(&role.name)
                    .bind(&role.description)
                    .bind(Json(&role.permissions))
                    .bind(tenant)
                    .bind(&role.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("a role with this name"))?;
                    found(tx.finish_changing(done.rows_affected()).await?)
                }

                async fn delete_role(&self, tenant: TenantId, id: &str) -> StoreResult<bool> {
                    let mut tx = self.tenant_tx(tenant).await?;
                    for sql in [
                        "DELETE FROM role_assignments WHERE tenant_id = $1 AND role = $2",
                        "DELETE FROM team_roles WHERE tenant_id = $1 AND role = $2",
                    ] {
                        sqlx::query(sql).bind(tenant).bind(id).execute(&mut *tx).await?;
                    }
                    let done = sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn assign_role(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    role: &str,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "INSERT INTO role_assignments (tenant_id, user_id, role, created_at)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(role)
                    .bind(Timestamp::now())
                    .execute(&mut *tx)
                    .await
                    .map_err(missing_parent)?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn unassign_role(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    role: &str,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "DELETE FROM role_assignments
                         WHERE tenant_id = $1 AND user_id = $2 AND role = $3",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(role)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn role_holders(
                    &self,
                    tenant: TenantId,
                    role: &str,
                ) -> StoreResult<Vec<UserId>> {
                    let mut tx = self.tenant(tenant).await?;
                    let ids = sqlx::query_scalar(
                        "SELECT user_id FROM role_assignments WHERE tenant_id = $1 AND role = $2
                         ORDER BY user_id",
                    )
                    .bind(tenant)
                    .bind(role)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    Ok(ids)
                }

                async fn create_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
                    let mut tx = self.tenant_tx(tenant).await?;
                    sqlx::query(
                        "INSERT INTO teams (tenant_id, id, name, description, created_at)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(tenant)
                    .bind(Id(team.id))
                    .bind(&team.name)
                    .bind(&team.description)
                    .bind(team.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("a team with this name"))?;
                    insert_team_roles(&mut tx, tenant, team).await?;
                    Ok(tx.finish().await?)
                }

                async fn teams(&self, tenant: TenantId) -> StoreResult<Vec<Team>> {
                    let mut tx = self.tenant_tx(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM teams WHERE tenant_id = $1 ORDER BY lower(name), id",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    let roles: Vec<(Id, String)> = sqlx::query_as(
                        "SELECT team_id, role FROM team_roles WHERE tenant_id = $1 ORDER BY role",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter()
                        .map(|row| {
                            let id = row.try_get::<Id, _>("id")?.0;
                            Ok(Team {
                                id,
                                name: row.try_get("name")?,
                                description: row.try_get("description")?,
                                roles: roles
                                    .iter()
                                    .filter(|(team, _)| team.0 == id)
                                    .map(|(_, role)| role.clone())
                                    .collect(),
                                created_at: row.try_get("created_at")?,
                            })
                        })
                        .collect()
                }

                async fn update_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
                    let mut tx = self.tenant_tx(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE teams SET name = $1, description = $2
                         WHERE tenant_id = $3 AND id = $4",
                    )
                    .bind(&team.name)
                    .bind(&team.description)
                    .bind(tenant)
                    .bind(Id(team.id))
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("a team with this name"))?;
                    found(done.rows_affected())?;
                    sqlx::query("DELETE FROM team_roles WHERE tenant_id = $1 AND team_id = $2")
                        .bind(tenant)
                        .bind(Id(team.id))
                        .execute(&mut *tx)
                        .await?;
                    insert_team_roles(&mut tx, tenant, team).await?;
                    Ok(tx.finish().await?)
                }

                async fn delete_team(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
                    // Its roles and memberships go by cascade.
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query("DELETE FROM teams WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(Id(id))
                        .execute(&mut *tx)
                        .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn add_member(
                    &self,
                    tenant: TenantId,
                    team: Uuid,
                    user: UserId,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "INSERT INTO team_members (tenant_id, team_id, user_id, created_at)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant)
                    .bind(Id(team))
                    .bind(user)
                    .bind(Timestamp::now())
                    .execute(&mut *tx)
                    .await
                    .map_err(missing_parent)?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn remove_member(
                    &self,
                    tenant: TenantId,
                    team: Uuid,
                    user: UserId,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "DELETE FROM team_members
                         WHERE tenant_id = $1 AND team_id = $2 AND user_id = $3",
                    )
                    .bind(tenant)
                    .bind(Id(team))
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn members(&self, tenant: TenantId, team: Uuid) -> StoreResult<Vec<UserId>> {
                    let mut tx = self.tenant(tenant).await?;
                    let ids = sqlx::query_scalar(
                        "SELECT user_id FROM team_members WHERE tenant_id = $1 AND team_id = $2
                         ORDER BY created_at, user_id",
                    )
                    .bind(tenant)
                    .bind(Id(team))
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    Ok(ids)
                }

                async fn teams_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Uuid>> {
                    let mut tx = self.tenant(tenant).await?;
                    let ids: Vec<Id> = sqlx::query_scalar(
                        "SELECT team_id FROM team_members WHERE tenant_id = $1 AND user_id = $2
                         ORDER BY team_id",
                    )
                    .bind(tenant)
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    Ok(ids.into_iter().map(|id| id.0).collect())
                }
            }
        }
    };
}

pub(crate) use access_repo;
