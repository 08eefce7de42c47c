//! API keys of a tenant, one implementation for SQLite and PostgreSQL.

/// Implements `ApiKeyRepo` for a sqlx store (`$store`, whose rows are `$row`).
macro_rules! api_key_repo {
    ($store:ident, $row:ty) => {
        mod api_key_statements {
            use super::$store;
            use crate::domain::{ApiKey, Permission, TenantId, Timestamp};
            use crate::store::sql::{conflict, Finish, Id};
            use crate::store::{ApiKeyRepo, StoreResult};
            use sqlx::{types::Json, Row};
            use uuid::Uuid;

            fn key_from_row(row: &$row) -> StoreResult<ApiKey> {
                Ok(ApiKey {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    name: row.try_get("name")?,
                    hint: row.try_get("hint")?,
                    hash: row.try_get("hash")?,
                    permissions: row.try_get::<Json<Vec<Permission>>, _>("permissions")?.0,
                    created_by: row.try_get("created_by")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            #[async_trait::async_trait]
            impl ApiKeyRepo for $store {
                async fn create(&self, tenant: TenantId, key: &ApiKey) -> StoreResult<()> {
                    debug_assert_eq!(tenant, key.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO api_keys (tenant_id, id, name, hint, hash, permissions, created_by,
                                               created_at, expires_at, last_used_at, revoked_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant)
                    .bind(Id(key.id))
                    .bind(&key.name)
                    .bind(&key.hint)
                    .bind(&key.hash)
                    .bind(Json(&key.permissions))
                    .bind(&key.created_by)
                    .bind(key.created_at)
                    .bind(key.expires_at)
                    .bind(key.last_used_at)
                    .bind(key.revoked_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("API key"))?;
                    Ok(tx.finish().await?)
                }

                async fn list(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(key_from_row).collect()
                }

                async fn by_hash(&self, tenant: TenantId, hash: &str) -> StoreResult<Option<ApiKey>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 AND hash = $2")
                        .bind(tenant)
                        .bind(hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.finish().await?;
                    row.as_ref().map(key_from_row).transpose()
                }

                async fn record_use(
                    &self,
                    tenant: TenantId,
                    id: Uuid,
                    at: Timestamp,
                    since: Timestamp,
                ) -> StoreResult<()> {
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "UPDATE api_keys SET last_used_at = $1
                         WHERE tenant_id = $2 AND id = $3 AND (last_used_at IS NULL OR last_used_at < $4)",
                    )
                    .bind(at)
                    .bind(tenant)
                    .bind(Id(id))
                    .bind(since)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish().await?)
                }

                async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE api_keys SET revoked_at = $1
                         WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
                    )
                    .bind(at)
                    .bind(tenant)
                    .bind(Id(id))
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }
            }
        }
    };
}

pub(crate) use api_key_repo;
