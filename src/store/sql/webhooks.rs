//! Webhook endpoints and their delivery log, one implementation for SQLite and PostgreSQL.

/// Implements `WebhookRepo` for a sqlx store (`$store`, whose rows are `$row`).
macro_rules! webhook_repo {
    ($store:ident, $row:ty) => {
        mod webhook_statements {
            use super::$store;
            use crate::domain::{DeliveryAttempt, TenantId, Timestamp, WebhookEndpoint};
            use crate::store::sql::{conflict, Finish, Id};
            use crate::store::{StoreResult, WebhookRepo};
            use sqlx::{types::Json, Row};
            use uuid::Uuid;

            fn endpoint_from_row(row: &$row) -> StoreResult<WebhookEndpoint> {
                Ok(WebhookEndpoint {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    url: row.try_get("url")?,
                    description: row.try_get("description")?,
                    events: row.try_get::<Json<Vec<String>>, _>("events")?.0,
                    secret: row.try_get("secret")?,
                    enabled: row.try_get("enabled")?,
                    disabled_reason: row.try_get("disabled_reason")?,
                    failing_since: row.try_get("failing_since")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn attempt_from_row(row: &$row) -> StoreResult<DeliveryAttempt> {
                Ok(DeliveryAttempt {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    endpoint_id: row.try_get::<Id, _>("endpoint_id")?.0,
                    message_id: row.try_get("message_id")?,
                    event_type: row.try_get("event_type")?,
                    payload: row.try_get("payload")?,
                    attempt: row.try_get("attempt")?,
                    at: row.try_get("at")?,
                    status: row.try_get("status")?,
                    latency_ms: row.try_get("latency_ms")?,
                    response: row.try_get("response")?,
                    succeeded: row.try_get("succeeded")?,
                })
            }

            #[async_trait::async_trait]
            impl WebhookRepo for $store {
                async fn create_endpoint(
                    &self,
                    tenant: TenantId,
                    e: &WebhookEndpoint,
                ) -> StoreResult<()> {
                    debug_assert_eq!(tenant, e.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (tenant_id, id, url, description, events, secret,
                             enabled, disabled_reason, failing_since, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant)
                    .bind(Id(e.id))
                    .bind(&e.url)
                    .bind(&e.description)
                    .bind(Json(&e.events))
                    .bind(&e.secret)
                    .bind(e.enabled)
                    .bind(&e.disabled_reason)
                    .bind(e.failing_since)
                    .bind(e.created_at)
                    .bind(e.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("webhook endpoint"))?;
                    Ok(tx.finish().await?)
                }

                async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM webhook_endpoints WHERE tenant_id = $1
                         ORDER BY created_at DESC, id DESC",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(endpoint_from_row).collect()
                }

                async fn endpoint(
                    &self,
                    tenant: TenantId,
                    id: Uuid,
                ) -> StoreResult<Option<WebhookEndpoint>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                    )
                    .bind(tenant)
                    .bind(Id(id))
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    row.as_ref().map(endpoint_from_row).transpose()
                }

                async fn update_endpoint(
                    &self,
                    tenant: TenantId,
                    e: &WebhookEndpoint,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3,
                             secret = $4, enabled = $5, disabled_reason = $6, failing_since = $7,
                             updated_at = $8
                         WHERE tenant_id = $9 AND id = $10",
                    )
                    .bind(&e.url)
                    .bind(&e.description)
                    .bind(Json(&e.events))
                    .bind(&e.secret)
                    .bind(e.enabled)
                    .bind(&e.disabled_reason)
                    .bind(e.failing_since)
                    .bind(e.updated_at)
                    .bind(tenant)
                    .bind(Id(e.id))
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn delete_endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    // The log goes with its endpoint (a foreign key with ON DELETE CASCADE).
                    let done =
                        sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                            .bind(tenant)
                            .bind(Id(id))
                            .execute(&mut *tx)
                            .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn record_attempt(
                    &self,
                    tenant: TenantId,
                    a: &DeliveryAttempt,
                    disable_before: Timestamp,
                    reason: &str,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant_tx(tenant).await?;
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id,
                             event_type, payload, attempt, at, status, latency_ms, response, succeeded)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(tenant)
                    .bind(Id(a.id))
                    .bind(Id(a.endpoint_id))
                    .bind(&a.message_id)
                    .bind(&a.event_type)
                    .bind(&a.payload)
                    .bind(a.attempt)
                    .bind(a.at)
                    .bind(a.status)
                    .bind(a.latency_ms)
                    .bind(&a.response)
                    .bind(a.succeeded)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("delivery attempt"))?;
                    // One statement, so that processes logging at once agree on when the
                    // failures began and on which of them disables the endpoint.
                    let disabled = if a.succeeded {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET failing_since = NULL
                             WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant)
                        .bind(Id(a.endpoint_id))
                        .execute(&mut *tx)
                        .await?;
                        false
                    } else {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1)
                             WHERE tenant_id = $2 AND id = $3",
                        )
                        .bind(a.at)
                        .bind(tenant)
                        .bind(Id(a.endpoint_id))
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2
                             WHERE tenant_id = $3 AND id = $4 AND enabled = $5 AND failing_since <= $6",
                        )
                        .bind(false)
                        .bind(reason)
                        .bind(tenant)
                        .bind(Id(a.endpoint_id))
                        .bind(true)
                        .bind(disable_before)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                            == 1
                    };
                    tx.finish().await?;
                    Ok(disabled)
                }

                async fn attempts(
                    &self,
                    tenant: TenantId,
                    endpoint: Uuid,
                    limit: u32,
                ) -> StoreResult<Vec<DeliveryAttempt>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2
                         ORDER BY at DESC, id DESC LIMIT $3",
                    )
                    .bind(tenant)
                    .bind(Id(endpoint))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(attempt_from_row).collect()
                }

                async fn attempt(
                    &self,
                    tenant: TenantId,
                    id: Uuid,
                ) -> StoreResult<Option<DeliveryAttempt>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2",
                    )
                    .bind(tenant)
                    .bind(Id(id))
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    row.as_ref().map(attempt_from_row).transpose()
                }

                async fn purge_attempts_before(
                    &self,
                    before: Timestamp,
                    limit: u32,
                ) -> StoreResult<u64> {
                    self.purge("webhook_deliveries", "at", before, limit).await
                }
            }
        }
    };
}

pub(crate) use webhook_repo;
