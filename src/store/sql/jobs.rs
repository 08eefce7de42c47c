//! The job queue and the turns of scheduled jobs, one implementation for SQLite and PostgreSQL.

/// Implements `JobRepo` for a sqlx store (`$store`, whose rows are `$row`). The store provides
/// `tenant` (a connection or transaction scoped to one tenant) and `housekeeping` (a
/// transaction that may see the queue of every tenant).
macro_rules! job_repo {
    ($store:ident, $row:ty) => {
        mod job_statements {
            use super::$store;
            use crate::domain::{Job, JobBacklog, TenantId, Timestamp};
            use crate::store::sql::{Finish, Id};
            use crate::store::{JobRepo, StoreResult};
            use sqlx::{QueryBuilder, Row};

            /// Adds the INSERT of `jobs` to `query`: one statement for all (the group commit
            /// writes a batch's webhook messages with its audit events).
            pub(super) fn push_jobs<'r>(
                query: &mut QueryBuilder<'r, <$row as Row>::Database>,
                jobs: impl IntoIterator<Item = &'r Job>,
            ) {
                query.push(
                    "INSERT INTO jobs (id, tenant_id, kind, payload, created_at, run_at, attempts, last_error) ",
                );
                query.push_values(jobs, |mut row, job| {
                    row.push_bind(Id(job.id))
                        .push_bind(job.tenant_id)
                        .push_bind(&job.kind)
                        .push_bind(&job.payload)
                        .push_bind(job.created_at)
                        .push_bind(job.run_at)
                        .push_bind(job.attempts)
                        .push_bind(&job.last_error);
                });
            }

            fn job_from_row(row: &$row) -> StoreResult<Job> {
                Ok(Job {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    kind: row.try_get("kind")?,
                    payload: row.try_get("payload")?,
                    created_at: row.try_get("created_at")?,
                    run_at: row.try_get("run_at")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                })
            }

            #[async_trait::async_trait]
            impl JobRepo for $store {
                async fn enqueue(&self, tenant: TenantId, job: &Job) -> StoreResult<()> {
                    debug_assert_eq!(tenant, job.tenant_id);
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO jobs (id, tenant_id, kind, payload, created_at, run_at, attempts, last_error)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(Id(job.id))
                    .bind(tenant)
                    .bind(&job.kind)
                    .bind(&job.payload)
                    .bind(job.created_at)
                    .bind(job.run_at)
                    .bind(job.attempts)
                    .bind(&job.last_error)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish().await?)
                }

                async fn claim(
                    &self,
                    holder: &str,
                    now: Timestamp,
                    until: Timestamp,
                    limit: u32,
                ) -> StoreResult<Vec<Job>> {
                    let mut tx = self.housekeeping().await?;
                    // The lease condition is repeated outside the subquery: on PostgreSQL, a
                    // claim that waited for another's row lock checks it again on the row as
                    // the other left it, so two claims never lease one job.
                    let rows = sqlx::query(
                        "UPDATE jobs SET leased_by = $1, lease_until = $3, attempts = attempts + 1
                         WHERE id IN (SELECT id FROM jobs
                                      WHERE run_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                                      ORDER BY run_at LIMIT $4)
                           AND run_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                         RETURNING *",
                    )
                    .bind(holder)
                    .bind(now)
                    .bind(until)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let mut jobs = rows.iter().map(job_from_row).collect::<StoreResult<Vec<_>>>()?;
                    jobs.sort_by_key(|j| (j.run_at, j.id));
                    Ok(jobs)
                }

                async fn finish(&self, job: &Job, holder: &str) -> StoreResult<bool> {
                    let mut db = self.tenant(job.tenant_id).await?;
                    let done = sqlx::query(
                        "DELETE FROM jobs WHERE tenant_id = $1 AND id = $2 AND leased_by = $3",
                    )
                    .bind(job.tenant_id)
                    .bind(Id(job.id))
                    .bind(holder)
                    .execute(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn retry(
                    &self,
                    job: &Job,
                    holder: &str,
                    run_at: Timestamp,
                    error: &str,
                ) -> StoreResult<bool> {
                    let mut db = self.tenant(job.tenant_id).await?;
                    let done = sqlx::query(
                        "UPDATE jobs SET run_at = $1, last_error = $2, leased_by = NULL, lease_until = NULL
                         WHERE tenant_id = $3 AND id = $4 AND leased_by = $5",
                    )
                    .bind(run_at)
                    .bind(error)
                    .bind(job.tenant_id)
                    .bind(Id(job.id))
                    .bind(holder)
                    .execute(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn pending(&self, tenant: TenantId) -> StoreResult<Vec<Job>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM jobs WHERE tenant_id = $1 ORDER BY run_at, id",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(job_from_row).collect()
                }

                async fn take_turn(
                    &self,
                    name: &str,
                    now: Timestamp,
                    next: Timestamp,
                ) -> StoreResult<bool> {
                    let mut tx = self.housekeeping().await?;
                    let done = sqlx::query(
                        "INSERT INTO job_turns (name, due_at) VALUES ($1, $3)
                         ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at
                         WHERE job_turns.due_at <= $2",
                    )
                    .bind(name)
                    .bind(now)
                    .bind(next)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn backlog(&self, now: Timestamp) -> StoreResult<JobBacklog> {
                    let mut tx = self.housekeeping().await?;
                    let row = sqlx::query(
                        "SELECT COUNT(*) AS waiting,
                                COALESCE(SUM(CASE WHEN run_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                                                  THEN 1 ELSE 0 END), 0) AS due
                         FROM jobs",
                    )
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let count = |column| row.try_get::<i64, _>(column).map(|n| n.max(0) as u64);
                    Ok(JobBacklog {
                        waiting: count("waiting")?,
                        due: count("due")?,
                    })
                }
            }
        }
    };
}

pub(crate) use job_repo;
