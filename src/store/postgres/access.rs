//! Custom roles and teams.

use super::{at, timestamp, PostgresStore};
use crate::domain::{Permission, Role, Team, TenantId, Timestamp, UserId};
use crate::store::sql::{conflict, missing_parent, unavailable};
use crate::store::{AccessRepo, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::{postgres::PgRow, types::Json, Postgres, Row, Transaction};
use uuid::Uuid;

fn role_from_row(row: &PgRow) -> Role {
    let Json(permissions): Json<Vec<Permission>> = row.get("permissions");
    Role {
        id: row.get("id"),
        name: row.get("name"),
        description: row.get("description"),
        permissions,
        built_in: false,
        created_at: timestamp(row.get("created_at")),
    }
}

#[async_trait]
impl AccessRepo for PostgresStore {
    async fn create_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO roles (tenant_id, id, name, description, permissions, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.as_uuid())
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.description)
        .bind(Json(&role.permissions))
        .bind(at(role.created_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("a role with this name"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn custom_roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query("SELECT * FROM roles WHERE tenant_id = $1 ORDER BY lower(name), id")
            .bind(tenant.as_uuid())
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(rows.iter().map(role_from_row).collect())
    }

    async fn update_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE roles SET name = $1, description = $2, permissions = $3
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(Json(&role.permissions))
        .bind(tenant.as_uuid())
        .bind(&role.id)
        .execute(&mut *tx)
        .await
        .map_err(conflict("a role with this name"))?;
        tx.commit().await.map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_role(&self, tenant: TenantId, id: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        for sql in [
            "DELETE FROM role_assignments WHERE tenant_id = $1 AND role = $2",
            "DELETE FROM team_roles WHERE tenant_id = $1 AND role = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_uuid())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn assign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, role, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(role)
        .bind(at(Timestamp::now()))
        .execute(&mut *tx)
        .await
        .map_err(missing_parent)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn unassign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 AND role = $3",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(role)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn role_holders(&self, tenant: TenantId, role: &str) -> StoreResult<Vec<UserId>> {
        let mut tx = self.scoped(tenant).await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM role_assignments WHERE tenant_id = $1 AND role = $2
             ORDER BY user_id",
        )
        .bind(tenant.as_uuid())
        .bind(role)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ids.into_iter().map(UserId::from).collect())
    }

    async fn create_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO teams (tenant_id, id, name, description, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_uuid())
        .bind(team.id)
        .bind(&team.name)
        .bind(&team.description)
        .bind(at(team.created_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("a team with this name"))?;
        insert_team_roles(&mut tx, tenant, team).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn teams(&self, tenant: TenantId) -> StoreResult<Vec<Team>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.description, t.created_at,
                    coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL),
                             '{}') AS roles
             FROM teams t
             LEFT JOIN team_roles r ON r.tenant_id = t.tenant_id AND r.team_id = t.id
             WHERE t.tenant_id = $1
             GROUP BY t.tenant_id, t.id
             ORDER BY lower(t.name), t.id",
        )
        .bind(tenant.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|row| Team {
                id: row.get("id"),
                name: row.get("name"),
                description: row.get("description"),
                roles: row.get("roles"),
                created_at: timestamp(row.get("created_at")),
            })
            .collect())
    }

    async fn update_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE teams SET name = $1, description = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(&team.name)
        .bind(&team.description)
        .bind(tenant.as_uuid())
        .bind(team.id)
        .execute(&mut *tx)
        .await
        .map_err(conflict("a team with this name"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM team_roles WHERE tenant_id = $1 AND team_id = $2")
            .bind(tenant.as_uuid())
            .bind(team.id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        insert_team_roles(&mut tx, tenant, team).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn delete_team(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        // Its roles and memberships go by cascade.
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query("DELETE FROM teams WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "INSERT INTO team_members (tenant_id, team_id, user_id, created_at)
             VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_uuid())
        .bind(team)
        .bind(user.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(missing_parent)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "DELETE FROM team_members WHERE tenant_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(tenant.as_uuid())
        .bind(team)
        .bind(user.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn members(&self, tenant: TenantId, team: Uuid) -> StoreResult<Vec<UserId>> {
        let mut tx = self.scoped(tenant).await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM team_members WHERE tenant_id = $1 AND team_id = $2
             ORDER BY created_at, user_id",
        )
        .bind(tenant.as_uuid())
        .bind(team)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ids.into_iter().map(UserId::from).collect())
    }

    async fn teams_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.scoped(tenant).await?;
        let ids = sqlx::query_scalar(
            "SELECT team_id FROM team_members WHERE tenant_id = $1 AND user_id = $2
             ORDER BY team_id",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ids)
    }
}

async fn insert_team_roles(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    team: &Team,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO team_roles (tenant_id, team_id, role)
         SELECT $1, $2, role FROM unnest($3::text[]) AS role ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_uuid())
    .bind(team.id)
    .bind(&team.roles)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}
