//! What PostgreSQL does its own way: the group commit's writes (token records, audit events),
//! each tenant's rows under its row-level security, and where the token hot paths run.

use super::artifact_statements::{
    insert_access_tokens, insert_refresh_tokens, rotate_refresh_tokens, select_access_tokens,
};
use super::job_statements::push_jobs;
use super::records_statements::push_audit_events;
use super::{by_tenant, PostgresStore, TenantTx};
use crate::domain::{AccessTokenRecord, AuditEvent, Job, RefreshToken, TenantId};
use crate::store::audited::Outbound;
use crate::store::sql::Finish;
use crate::store::{to_store, BatchRepo, Issuance, Redemption, Rotation, StoreResult};
use sqlx::{postgres::PgConnection, Postgres, QueryBuilder};

impl PostgresStore {
    /// Where the statements of the token hot paths run: a tenant transaction, as every call.
    pub(super) async fn hot(&self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        self.tenant(tenant).await
    }

    /// An access token's record, read in the tenant's own transaction (a batch across tenants
    /// would need one transaction per tenant: nothing saved).
    pub(super) async fn read_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let mut db = self.tenant(tenant).await?;
        let mut found = select_access_tokens(&mut db, &[(tenant, jti.to_owned())]).await?;
        db.finish().await?;
        Ok(found.pop())
    }
}

/// One transaction for a group commit's rotations, token records, audit events and the
/// webhook messages of those events, each
/// tenant's rows under that tenant's row-level security. The rotations go first, and only the
/// responses whose token they spent are stored; the row locks of their UPDATEs decide races
/// between processes.
#[async_trait::async_trait]
impl BatchRepo for PostgresStore {
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
        let mut tx = self.batch().await?;
        let mut outcomes: Vec<Option<Redemption<RefreshToken>>> =
            rotations.iter().map(|_| None).collect();
        let when = rotations.iter().map(|r| r.at).max();
        for (tenant, group) in by_tenant(&indexed(rotations), |(_, r)| r.tenant) {
            let when = when.unwrap_or(group[0].1.at);
            tx.rescope(tenant).await?;
            let wanted: Vec<(TenantId, String)> = group
                .iter()
                .map(|(_, r)| (tenant, r.token_hash.clone()))
                .collect();
            let spent = rotate_refresh_tokens(&mut tx, &wanted, when).await?;
            for ((i, _), outcome) in group.into_iter().zip(spent) {
                outcomes[*i] = Some(outcome);
            }
        }
        let outcomes: Vec<Redemption<RefreshToken>> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Redemption::Unknown))
            .collect();
        let (issued, events) = to_store(rotations, &outcomes, issued, events);
        for (tenant, group) in by_tenant(&issued, |i| i.access.tenant_id) {
            tx.rescope(tenant).await?;
            insert_access_tokens(&mut tx, group.iter().map(|i| (tenant, &i.access))).await?;
            let refresh: Vec<_> = group
                .iter()
                .filter_map(|i| i.refresh.as_ref())
                .map(|t| (tenant, t))
                .collect();
            if !refresh.is_empty() {
                insert_refresh_tokens(&mut tx, refresh).await?;
            }
        }
        for (tenant, group) in by_tenant(&events, |e| e.tenant_id) {
            tx.rescope(tenant).await?;
            let mut insert = QueryBuilder::<Postgres>::new("");
            push_audit_events(&mut insert, group.into_iter().copied());
            insert.build().execute(&mut *tx).await?;
        }
        for (tenant, group) in by_tenant(jobs, |j| j.tenant_id) {
            tx.rescope(tenant).await?;
            let mut insert = QueryBuilder::<Postgres>::new("");
            push_jobs(&mut insert, group);
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// Each row with its place in the batch.
fn indexed<T>(rows: &[T]) -> Vec<(usize, &T)> {
    rows.iter().enumerate().collect()
}

/// Inserts the audit events and webhook messages of a change in its transaction.
pub(super) async fn insert_outbound(
    db: &mut PgConnection,
    rows: &Outbound,
) -> Result<(), sqlx::Error> {
    if !rows.events.is_empty() {
        let mut insert = QueryBuilder::<Postgres>::new("");
        push_audit_events(&mut insert, &rows.events);
        insert.build().execute(&mut *db).await?;
    }
    if !rows.jobs.is_empty() {
        let mut insert = QueryBuilder::<Postgres>::new("");
        push_jobs(&mut insert, &rows.jobs);
        insert.build().execute(&mut *db).await?;
    }
    Ok(())
}
