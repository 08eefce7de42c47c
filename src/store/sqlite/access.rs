//! Custom roles and teams.

use super::SqliteStore;
use crate::domain::{Permission, Role, Team, TenantId, Timestamp, UserId};
use crate::store::decode::parse;
use crate::store::sql::{conflict, missing_parent, unavailable};
use crate::store::{from_json, to_json, AccessRepo, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::{sqlite::SqliteRow, Row};
use uuid::Uuid;

fn role_from_row(row: &SqliteRow) -> StoreResult<Role> {
    let permissions: Vec<Permission> = from_json(row.get("permissions"))?;
    Ok(Role {
        id: row.get("id"),
        name: row.get("name"),
        description: row.get("description"),
        permissions,
        built_in: false,
        created_at: Timestamp::from_unix(row.get("created_at")),
    })
}

impl SqliteStore {
    async fn team_roles(&self, tenant: TenantId, team: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT role FROM team_roles WHERE tenant_id = ? AND team_id = ? ORDER BY role",
        )
        .bind(tenant.to_string())
        .bind(team)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
    }
}

#[async_trait]
impl AccessRepo for SqliteStore {
    async fn create_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (tenant_id, id, name, description, permissions, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.description)
        .bind(to_json(&role.permissions))
        .bind(role.created_at.unix())
        .execute(&self.pool)
        .await
        .map_err(conflict("a role with this name"))?;
        Ok(())
    }

    async fn custom_roles(&self, tenant: TenantId) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query("SELECT * FROM roles WHERE tenant_id = ? ORDER BY lower(name), id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(role_from_row).collect()
    }

    async fn update_role(&self, tenant: TenantId, role: &Role) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE roles SET name = ?, description = ?, permissions = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(to_json(&role.permissions))
        .bind(tenant.to_string())
        .bind(&role.id)
        .execute(&self.pool)
        .await
        .map_err(conflict("a role with this name"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_role(&self, tenant: TenantId, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for sql in [
            "DELETE FROM role_assignments WHERE tenant_id = ? AND role = ?",
            "DELETE FROM team_roles WHERE tenant_id = ? AND role = ?",
        ] {
            sqlx::query(sql)
                .bind(tenant.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM roles WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn assign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO role_assignments (tenant_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(role)
        .bind(Timestamp::now().unix())
        .execute(&self.pool)
        .await
        .map_err(missing_parent)?;
        Ok(done.rows_affected() == 1)
    }

    async fn unassign_role(&self, tenant: TenantId, user: UserId, role: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM role_assignments WHERE tenant_id = ? AND user_id = ? AND role = ?",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(role)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn role_holders(&self, tenant: TenantId, role: &str) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM role_assignments WHERE tenant_id = ? AND role = ? ORDER BY user_id",
        )
        .bind(tenant.to_string())
        .bind(role)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        ids.iter().map(|id| parse(id)).collect()
    }

    async fn create_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO teams (tenant_id, id, name, description, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(team.id.to_string())
        .bind(&team.name)
        .bind(&team.description)
        .bind(team.created_at.unix())
        .execute(&mut *tx)
        .await
        .map_err(conflict("a team with this name"))?;
        insert_team_roles(&mut tx, tenant, team).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn teams(&self, tenant: TenantId) -> StoreResult<Vec<Team>> {
        let rows = sqlx::query("SELECT * FROM teams WHERE tenant_id = ? ORDER BY lower(name), id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut teams = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.get("id");
            teams.push(Team {
                id: parse(&id)?,
                name: row.get("name"),
                description: row.get("description"),
                roles: self.team_roles(tenant, &id).await?,
                created_at: Timestamp::from_unix(row.get("created_at")),
            });
        }
        Ok(teams)
    }

    async fn update_team(&self, tenant: TenantId, team: &Team) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE teams SET name = ?, description = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(&team.name)
        .bind(&team.description)
        .bind(tenant.to_string())
        .bind(team.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(conflict("a team with this name"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM team_roles WHERE tenant_id = ? AND team_id = ?")
            .bind(tenant.to_string())
            .bind(team.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        insert_team_roles(&mut tx, tenant, team).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn delete_team(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM teams WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO team_members (tenant_id, team_id, user_id, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .bind(Timestamp::now().unix())
        .execute(&self.pool)
        .await
        .map_err(missing_parent)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, tenant: TenantId, team: Uuid, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM team_members WHERE tenant_id = ? AND team_id = ? AND user_id = ?",
        )
        .bind(tenant.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn members(&self, tenant: TenantId, team: Uuid) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM team_members WHERE tenant_id = ? AND team_id = ?
             ORDER BY created_at, user_id",
        )
        .bind(tenant.to_string())
        .bind(team.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        ids.iter().map(|id| parse(id)).collect()
    }

    async fn teams_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Uuid>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT team_id FROM team_members WHERE tenant_id = ? AND user_id = ? ORDER BY team_id",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        ids.iter().map(|id| parse(id)).collect()
    }
}

async fn insert_team_roles(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tenant: TenantId,
    team: &Team,
) -> StoreResult<()> {
    for role in &team.roles {
        sqlx::query(
            "INSERT INTO team_roles (tenant_id, team_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.to_string())
        .bind(team.id.to_string())
        .bind(role)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}
