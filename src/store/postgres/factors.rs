//! Second factors of users.

use super::{at, timestamp, PostgresStore};
use crate::domain::{Factor, TenantId, Timestamp, UserId};
use crate::store::decode;
use crate::store::sql::{conflict, unavailable};
use crate::store::{FactorRepo, StoreResult};
use async_trait::async_trait;
use sqlx::{postgres::PgRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

fn factor_from_row(row: &PgRow) -> StoreResult<Factor> {
    Ok(Factor {
        id: row.get("id"),
        tenant_id: row.get::<Uuid, _>("tenant_id").into(),
        user_id: row.get::<Uuid, _>("user_id").into(),
        kind: decode::factor_kind(row.get("kind"))?,
        name: row.get("name"),
        data: row.get("data"),
        version: row.get("version"),
        created_at: timestamp(row.get("created_at")),
        last_used_at: row
            .get::<Option<OffsetDateTime>, _>("last_used_at")
            .map(timestamp),
    })
}

#[async_trait]
impl FactorRepo for PostgresStore {
    async fn add(&self, tenant: TenantId, f: &Factor) -> StoreResult<()> {
        debug_assert_eq!(tenant, f.tenant_id);
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO factors (tenant_id, id, user_id, kind, name, data, version, created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant.as_uuid())
        .bind(&f.id)
        .bind(f.user_id.as_uuid())
        .bind(f.kind.as_str())
        .bind(&f.name)
        .bind(&f.data)
        .bind(f.version)
        .bind(at(f.created_at))
        .bind(f.last_used_at.map(at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("factor"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Factor>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM factors WHERE tenant_id = $1 AND user_id = $2
             ORDER BY created_at, id",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
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
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE factors SET data = $1, version = version + 1, last_used_at = $2
             WHERE tenant_id = $3 AND id = $4 AND version = $5",
        )
        .bind(data)
        .bind(at(used_at))
        .bind(tenant.as_uuid())
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove(&self, tenant: TenantId, user: UserId, id: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done =
            sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_all(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}
