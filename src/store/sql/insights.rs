//! The console overview's figures, one implementation for SQLite and PostgreSQL.

/// Implements `InsightsRepo` for a sqlx store (`$store`, whose rows are `$row`); `$day` is the
/// backend's expression for the UTC day (days since 1970-01-01) of the column `at`.
macro_rules! insights_repo {
    ($store:ident, $row:ty, $day:literal) => {
        mod insights_statements {
            use super::$store;
            use crate::domain::insights::{ClientUse, DaySignIns, People};
            use crate::domain::{TenantId, Timestamp};
            use crate::store::sql::Finish;
            use crate::store::{InsightsRepo, StoreResult};
            use sqlx::Row;

            fn count(row: &$row, column: &str) -> StoreResult<u64> {
                Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
            }

            #[async_trait::async_trait]
            impl InsightsRepo for $store {
                async fn sign_ins_per_day(
                    &self,
                    tenant: TenantId,
                    since: Timestamp,
                ) -> StoreResult<Vec<DaySignIns>> {
                    let mut db = self.tenant(tenant).await?;
                    // The `action IN (…)` term is the partial index's own (`audit_events_sign_ins`).
                    let rows = sqlx::query(concat!(
                        "SELECT ", $day, " AS day,
                                SUM(CASE WHEN action = 'login.succeeded' THEN 1 ELSE 0 END) AS succeeded,
                                SUM(CASE WHEN action = 'login.succeeded' THEN 0 ELSE 1 END) AS failed
                         FROM audit_events
                         WHERE tenant_id = $1 AND at >= $2
                           AND action IN ('login.succeeded', 'login.password', 'login.second_factor')
                           AND (action = 'login.succeeded' OR outcome = 'failure')
                         GROUP BY 1 ORDER BY 1"
                    ))
                    .bind(tenant)
                    .bind(since)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter()
                        .map(|row| {
                            Ok(DaySignIns {
                                day: row.try_get("day")?,
                                succeeded: count(row, "succeeded")?,
                                failed: count(row, "failed")?,
                                date: String::new(),
                            })
                        })
                        .collect()
                }

                async fn busiest_clients(
                    &self,
                    tenant: TenantId,
                    since: Timestamp,
                    limit: u32,
                ) -> StoreResult<Vec<ClientUse>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT actor, COUNT(*) AS tokens FROM audit_events
                         WHERE tenant_id = $1 AND action = 'token.issued' AND at >= $2
                           AND actor LIKE 'client:%'
                         GROUP BY actor ORDER BY tokens DESC, actor LIMIT $3",
                    )
                    .bind(tenant)
                    .bind(since)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter()
                        .map(|row| {
                            let actor: String = row.try_get("actor")?;
                            Ok(ClientUse {
                                client_id: actor.trim_start_matches("client:").to_owned(),
                                name: String::new(),
                                tokens: count(row, "tokens")?,
                            })
                        })
                        .collect()
                }

                async fn people(
                    &self,
                    tenant: TenantId,
                    active_since: Timestamp,
                ) -> StoreResult<People> {
                    let mut db = self.tenant(tenant).await?;
                    let users = sqlx::query(
                        "SELECT COUNT(*) AS total,
                                COALESCE(SUM(CASE WHEN last_login_at >= $2 THEN 1 ELSE 0 END), 0) AS active
                         FROM users WHERE tenant_id = $1",
                    )
                    .bind(tenant)
                    .bind(active_since)
                    .fetch_one(&mut *db)
                    .await?;
                    let kinds = sqlx::query(
                        "SELECT kind, COUNT(DISTINCT user_id) AS people FROM factors
                         WHERE tenant_id = $1 AND kind <> 'backup_codes'
                         GROUP BY kind ORDER BY kind",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *db)
                    .await?;
                    let any = sqlx::query(
                        "SELECT COUNT(DISTINCT user_id) AS people FROM factors
                         WHERE tenant_id = $1 AND kind <> 'backup_codes'",
                    )
                    .bind(tenant)
                    .fetch_one(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(People {
                        total: count(&users, "total")?,
                        active: count(&users, "active")?,
                        with_second_factor: count(&any, "people")?,
                        by_kind: kinds
                            .iter()
                            .map(|row| Ok((row.try_get("kind")?, count(row, "people")?)))
                            .collect::<StoreResult<_>>()?,
                    })
                }
            }
        }
    };
}

pub(crate) use insights_repo;
