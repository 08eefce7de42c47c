//! Second factors of users.

use super::SqliteStore;
use crate::domain::{Factor, TenantId, Timestamp, UserId};
use crate::store::decode::{self, parse};
use crate::store::sql::{conflict, unavailable};
use crate::store::{FactorRepo, StoreResult};
use async_trait::async_trait;
use sqlx::{sqlite::SqliteRow, Row};

fn factor_from_row(row: &SqliteRow) -> StoreResult<Factor> {
    Ok(Factor {
        id: row.get("id"),
        tenant_id: parse(row.get("tenant_id"))?,
        user_id: parse(row.get("user_id"))?,
        kind: decode::factor_kind(row.get("kind"))?,
        name: row.get("name"),
        data: row.get("data"),
        version: row.get("version"),
        created_at: Timestamp::from_unix(row.get("created_at")),
        last_used_at: row
            .get::<Option<i64>, _>("last_used_at")
            .map(Timestamp::from_unix),
    })
}

#[async_trait]
impl FactorRepo for SqliteStore {
    async fn add(&self, tenant: TenantId, f: &Factor) -> StoreResult<()> {
        debug_assert_eq!(tenant, f.tenant_id);
        sqlx::query(
            "INSERT INTO factors (tenant_id, id, user_id, kind, name, data, version, created_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(&f.id)
        .bind(f.user_id.to_string())
        .bind(f.kind.as_str())
        .bind(&f.name)
        .bind(&f.data)
        .bind(f.version)
        .bind(f.created_at.unix())
        .bind(f.last_used_at.map(Timestamp::unix))
        .execute(&self.pool)
        .await
        .map_err(conflict("factor"))?;
        Ok(())
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Factor>> {
        let rows = sqlx::query(
            "SELECT * FROM factors WHERE tenant_id = ? AND user_id = ? ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(factor_from_row).collect()
    }

    async fn swap(
        &self,
        tenant: TenantId,
        id: &str,
        version: i64,
        data: &str,
        used_at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE factors SET data = ?, version = version + 1, last_used_at = ?
             WHERE tenant_id = ? AND id = ? AND version = ?",
        )
        .bind(data)
        .bind(used_at.unix())
        .bind(tenant.to_string())
        .bind(id)
        .bind(version)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove(&self, tenant: TenantId, user: UserId, id: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM factors WHERE tenant_id = ? AND user_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(user.to_string())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_all(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM factors WHERE tenant_id = ? AND user_id = ?")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}
