//! The job queue and the turns of scheduled jobs. A claim is one `findOneAndUpdate` per job,
//! conditional on the job being unleased, so two processes never lease the same job.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{Job, JobBacklog, TenantId, Timestamp};
use crate::store::{JobRepo, StoreError, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct JobDoc {
    tenant_id: String,
    id: String,
    kind: String,
    payload: String,
    created_at: DateTime,
    run_at: DateTime,
    attempts: i32,
    last_error: Option<String>,
    leased_by: Option<String>,
    lease_until: Option<DateTime>,
}

impl JobDoc {
    fn into_job(self) -> StoreResult<Job> {
        let corrupt = |e: String| StoreError::Corrupt(format!("jobs: {e}"));
        Ok(Job {
            id: self
                .id
                .parse()
                .map_err(|e: uuid::Error| corrupt(e.to_string()))?,
            tenant_id: self
                .tenant_id
                .parse()
                .map_err(|_| corrupt("tenant_id".into()))?,
            kind: self.kind,
            payload: self.payload,
            created_at: timestamp(self.created_at),
            run_at: timestamp(self.run_at),
            attempts: self.attempts,
            last_error: self.last_error,
        })
    }
}

/// Due at `now` and not leased (or its lease has ended).
fn claimable(now: Timestamp) -> Document {
    doc! {
        "run_at": { "$lte": date(now) },
        "$or": [ { "lease_until": null }, { "lease_until": { "$lte": date(now) } } ],
    }
}

/// The job `job` while `holder` leases it.
fn leased(job: &Job, holder: &str) -> Document {
    scoped(
        job.tenant_id,
        doc! { "id": job.id.to_string(), "leased_by": holder },
    )
}

#[async_trait]
impl JobRepo for MongoStore {
    async fn enqueue(&self, tenant: TenantId, job: &Job) -> StoreResult<()> {
        debug_assert_eq!(tenant, job.tenant_id);
        let document = JobDoc {
            tenant_id: tenant.to_string(),
            id: job.id.to_string(),
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            created_at: date(job.created_at),
            run_at: date(job.run_at),
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            leased_by: None,
            lease_until: None,
        };
        self.collection::<JobDoc>("jobs")
            .insert_one(document)
            .await
            .map_err(conflict("job"))?;
        Ok(())
    }

    async fn claim(
        &self,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let jobs = self.collection::<JobDoc>("jobs");
        let mut claimed = Vec::new();
        while claimed.len() < limit as usize {
            let next = jobs
                .find_one_and_update(
                    claimable(now),
                    doc! {
                        "$set": { "leased_by": holder, "lease_until": date(until) },
                        "$inc": { "attempts": 1 },
                    },
                )
                .sort(doc! { "run_at": 1, "id": 1 })
                .return_document(ReturnDocument::After)
                .await?;
            match next {
                Some(job) => claimed.push(job.into_job()?),
                None => break,
            }
        }
        Ok(claimed)
    }

    async fn finish(&self, job: &Job, holder: &str) -> StoreResult<bool> {
        let done = self
            .collection::<JobDoc>("jobs")
            .delete_one(leased(job, holder))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn retry(
        &self,
        job: &Job,
        holder: &str,
        run_at: Timestamp,
        error: &str,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<JobDoc>("jobs")
            .update_one(
                leased(job, holder),
                doc! { "$set": {
                    "run_at": date(run_at),
                    "last_error": error,
                    "leased_by": null,
                    "lease_until": null,
                } },
            )
            .await?;
        Ok(done.matched_count == 1)
    }

    async fn pending(&self, tenant: TenantId) -> StoreResult<Vec<Job>> {
        let cursor = self
            .collection::<JobDoc>("jobs")
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "run_at": 1, "id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(JobDoc::into_job)
            .collect()
    }

    async fn take_turn(&self, name: &str, now: Timestamp, next: Timestamp) -> StoreResult<bool> {
        // A due turn is matched and moved on; otherwise the upsert's insert meets the unique
        // index (the turn exists and is not due): not this process's turn.
        let taken = self
            .collection::<Document>("job_turns")
            .update_one(
                doc! { "name": name, "due_at": { "$lte": date(now) } },
                doc! { "$set": { "due_at": date(next) } },
            )
            .upsert(true)
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(e) => match super::conflict("turn")(e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn backlog(&self, now: Timestamp) -> StoreResult<JobBacklog> {
        let jobs = self.collection::<Document>("jobs");
        Ok(JobBacklog {
            waiting: jobs.count_documents(doc! {}).await?,
            due: jobs.count_documents(claimable(now)).await?,
        })
    }
}
