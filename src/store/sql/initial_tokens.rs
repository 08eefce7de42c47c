//! Initial access tokens of a tenant (RFC 7591 §3), one implementation for SQLite and
//! PostgreSQL.

/// Implements `InitialTokenRepo` for a sqlx store (`$store`, whose rows are `$row`).
macro_rules! initial_token_repo {
    ($store:ident, $row:ty) => {
        mod initial_token_statements {
            use super::$store;
            use crate::domain::{InitialAccessToken, TenantId, Timestamp};
            use crate::store::sql::{conflict, Finish, Id};
            use crate::store::{InitialTokenRepo, StoreResult};
            use sqlx::Row;
            use uuid::Uuid;

            fn token_from_row(row: &$row) -> StoreResult<InitialAccessToken> {
                Ok(InitialAccessToken {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    name: row.try_get("name")?,
                    hint: row.try_get("hint")?,
                    hash: row.try_get("hash")?,
                    max_uses: row.try_get("max_uses")?,
                    uses: row.try_get("uses")?,
                    created_by: row.try_get("created_by")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            #[async_trait::async_trait]
            impl InitialTokenRepo for $store {
                async fn create(&self, tenant: TenantId, token: &InitialAccessToken) -> StoreResult<()> {
                    debug_assert_eq!(tenant, token.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO initial_access_tokens (tenant_id, id, name, hint, hash, max_uses, uses,
                                                            created_by, created_at, expires_at, revoked_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant)
                    .bind(Id(token.id))
                    .bind(&token.name)
                    .bind(&token.hint)
                    .bind(&token.hash)
                    .bind(token.max_uses)
                    .bind(token.uses)
                    .bind(&token.created_by)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .bind(token.revoked_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("initial access token"))?;
                    Ok(tx.finish().await?)
                }

                async fn list(&self, tenant: TenantId) -> StoreResult<Vec<InitialAccessToken>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM initial_access_tokens WHERE tenant_id = $1
                         ORDER BY created_at DESC, id DESC",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(token_from_row).collect()
                }

                async fn spend(
                    &self,
                    tenant: TenantId,
                    hash: &str,
                    at: Timestamp,
                ) -> StoreResult<Option<InitialAccessToken>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "UPDATE initial_access_tokens SET uses = uses + 1
                         WHERE tenant_id = $1 AND hash = $2 AND revoked_at IS NULL
                           AND expires_at > $3 AND uses < max_uses
                         RETURNING *",
                    )
                    .bind(tenant)
                    .bind(hash)
                    .bind(at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    row.as_ref().map(token_from_row).transpose()
                }

                async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE initial_access_tokens SET revoked_at = $1
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

pub(crate) use initial_token_repo;
