//! What SQLite does its own way: the group commit's writes (token records, audit events), the
//! revocation checks read together, and where the token hot paths run.

use super::artifact_statements::{
    push_access_tokens, push_refresh_tokens, push_rotation, rotation_outcomes, select_access_tokens,
};
use super::connections::{Connections, Lent};
use super::job_statements::push_jobs;
use super::records_statements::push_audit_events;
use super::SqliteStore;
use crate::domain::{AccessTokenRecord, AuditEvent, Job, RefreshToken, TenantId};
use crate::store::audited::Outbound;
use crate::store::group_commit::GroupCommit;
use crate::store::sql::conflict;
use crate::store::{to_store, BatchRepo, Issuance, Redemption, Rotation, StoreResult};
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};
use std::collections::HashMap;

/// The access-token records that concurrent requests ask for (the revocation check of every
/// token presented to introspection and userinfo), read together: one statement on a reader
/// for all that are waiting. A read of its own cost each request two wake-ups (the reader's
/// thread, then the request's task), most of the cost of those endpoints under load.
pub(super) type AccessReads = GroupCommit<(TenantId, String), Option<AccessTokenRecord>>;

pub(super) fn access_reads(readers: Connections) -> AccessReads {
    GroupCommit::start(move |wanted: Vec<(TenantId, String)>| {
        let readers = readers.clone();
        Box::pin(async move {
            let found = {
                let mut db = readers.lend().await?;
                select_access_tokens(&mut db, &wanted).await?
            };
            let found: HashMap<(TenantId, &str), &AccessTokenRecord> = found
                .iter()
                .map(|record| ((record.tenant_id, record.jti.as_str()), record))
                .collect();
            Ok(wanted
                .iter()
                .map(|(tenant, jti)| found.get(&(*tenant, jti.as_str())).map(|r| (*r).clone()))
                .collect())
        })
    })
}

impl SqliteStore {
    /// Where the statements of the token hot paths run: the one writer connection. They queue
    /// for it in this process instead of sleeping on SQLite's write lock, and its page cache
    /// stays warm for the reads that follow a write (refresh-token rotation).
    pub(super) async fn hot(&self, _tenant: TenantId) -> Result<Lent, sqlx::Error> {
        self.writer.lend().await
    }

    pub(super) async fn read_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        self.access_reads.write((tenant, jti.to_owned())).await
    }
}

/// One transaction on the writer connection for a group commit's rotations, token records,
/// audit events and the webhook messages of those events, of any tenants: each kind in one statement, and the statements sent to the
/// connection's thread together (two trips: `BEGIN` with the rotations' UPDATE, then the
/// inserts with `COMMIT`; one without rotations). The hot paths queue for the batch's turn, and
/// each trip to that thread and back waits for a core twice: with a trip per statement, a batch
/// of ten refreshes took 1.8 ms, the writer's thread busy for less than half of it (client
/// credentials gained 7% from the fewer trips). The rotations go first: one UPDATE spends every
/// token waiting (at the latest of their times), and only the responses whose token it spent
/// are stored.
#[async_trait::async_trait]
impl BatchRepo for SqliteStore {
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
        let mut writer = self.writer.lend().await?;
        let written = write_in_one_transaction(&mut writer, rotations, issued, events, jobs).await;
        if written.is_err() {
            // A statement failed between BEGIN and COMMIT, which left the transaction open.
            let _ = sqlx::query("ROLLBACK").execute(&mut *writer).await;
        }
        written
    }
}

async fn write_in_one_transaction(
    db: &mut SqliteConnection,
    rotations: &[Rotation],
    issued: &[Issuance],
    events: &[AuditEvent],
    jobs: &[Job],
) -> StoreResult<Vec<Redemption<RefreshToken>>> {
    let wanted: Vec<(TenantId, String)> = rotations
        .iter()
        .map(|r| (r.tenant, r.token_hash.clone()))
        .collect();
    let outcomes = match rotations.iter().map(|r| r.at).max() {
        None => Vec::new(),
        Some(when) => {
            let mut update = QueryBuilder::<Sqlite>::new("BEGIN; ");
            push_rotation(&mut update, &wanted, when);
            let spent = update.build().fetch_all(&mut *db).await?;
            rotation_outcomes(db, &wanted, spent).await?
        }
    };
    let (issued, events) = to_store(rotations, &outcomes, issued, events);
    let refresh: Vec<_> = issued
        .iter()
        .filter_map(|i| i.refresh.as_ref())
        .map(|t| (t.tenant_id, t))
        .collect();
    let mut statements =
        QueryBuilder::<Sqlite>::new(if rotations.is_empty() { "BEGIN; " } else { "" });
    if !issued.is_empty() {
        push_access_tokens(
            &mut statements,
            issued.iter().map(|i| (i.access.tenant_id, &i.access)),
        );
        statements.push("; ");
    }
    if !refresh.is_empty() {
        push_refresh_tokens(&mut statements, refresh);
        statements.push("; ");
    }
    if !events.is_empty() {
        push_audit_events(&mut statements, events);
        statements.push("; ");
    }
    if !jobs.is_empty() {
        push_jobs(&mut statements, jobs);
        statements.push("; ");
    }
    statements.push("COMMIT");
    statements
        .build()
        .execute(&mut *db)
        .await
        .map_err(conflict("token record"))?;
    Ok(outcomes)
}

/// Inserts the audit events and webhook messages of a change in its transaction, in one trip.
pub(super) async fn insert_outbound(
    db: &mut SqliteConnection,
    rows: &Outbound,
) -> Result<(), sqlx::Error> {
    let mut statements = QueryBuilder::<Sqlite>::new("");
    if !rows.events.is_empty() {
        push_audit_events(&mut statements, &rows.events);
        statements.push("; ");
    }
    if !rows.jobs.is_empty() {
        push_jobs(&mut statements, &rows.jobs);
    }
    if statements.sql().is_empty() {
        return Ok(());
    }
    statements.build().execute(db).await?;
    Ok(())
}
