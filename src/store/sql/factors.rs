//! Second factors of users, one implementation for SQLite and PostgreSQL.

/// Implements `FactorRepo` for a sqlx store (`$store`, whose rows are `$row`).
macro_rules! factor_repo {
    ($store:ident, $row:ty) => {
        mod factor_statements {
            use super::$store;
            use crate::domain::{Factor, TenantId, Timestamp, UserId};
            use crate::store::sql::{conflict, Finish};
            use crate::store::{decode, FactorRepo, StoreResult};
            use sqlx::Row;

            fn factor_from_row(row: &$row) -> StoreResult<Factor> {
                Ok(Factor {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    user_id: row.try_get("user_id")?,
                    kind: decode::factor_kind(row.try_get("kind")?)?,
                    name: row.try_get("name")?,
                    data: row.try_get("data")?,
                    version: row.try_get("version")?,
                    created_at: row.try_get("created_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                })
            }

            #[async_trait::async_trait]
            impl FactorRepo for $store {
                async fn add(&self, tenant: TenantId, f: &Factor) -> StoreResult<()> {
                    debug_assert_eq!(tenant, f.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO factors (tenant_id, id, user_id, kind, name, data, version, created_at, last_used_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(tenant)
                    .bind(&f.id)
                    .bind(f.user_id)
                    .bind(f.kind.as_str())
                    .bind(&f.name)
                    .bind(&f.data)
                    .bind(f.version)
                    .bind(f.created_at)
                    .bind(f.last_used_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("factor"))?;
                    Ok(tx.finish().await?)
                }

                async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Factor>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM factors WHERE tenant_id = $1 AND user_id = $2
                         ORDER BY created_at, id",
                    )
                    .bind(tenant)
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
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
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE factors SET data = $1, version = version + 1, last_used_at = $2
                         WHERE tenant_id = $3 AND id = $4 AND version = $5",
                    )
                    .bind(data)
                    .bind(used_at)
                    .bind(tenant)
                    .bind(id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn remove(&self, tenant: TenantId, user: UserId, id: &str) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done =
                        sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
                            .bind(tenant)
                            .bind(user)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn remove_all(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await?)
                }
            }
        }
    };
}

pub(crate) use factor_repo;
