//! What SQLite does its own way: the group commit's writes (token records, audit events), the
//! revocation checks read together, refresh-token rotations written together, and where the
//! token hot paths run.

use super::artifact_statements::{
    insert_access_tokens, insert_refresh_tokens, rotate_refresh_tokens, select_access_tokens,
};
use super::connections::{Connections, Lent};
use super::records_statements::insert_audit_events;
use super::SqliteStore;
use crate::domain::{AccessTokenRecord, AuditEvent, RefreshToken, TenantId, Timestamp};
use crate::store::group_commit::GroupCommit;
use crate::store::{BatchRepo, Issuance, Redemption, StoreResult};
use sqlx::Connection;
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

/// The refresh tokens that concurrent requests spend (tenant, hash, when), spent together: one
/// UPDATE on the writer for all that are waiting (at the latest of their times), of which the
/// first request to name a token wins it. Alone, each rotation was a commit of its own, its
/// pages written to the log again for every token: most of the refresh grant's cost.
pub(super) type Rotations = GroupCommit<(TenantId, String, Timestamp), Redemption<RefreshToken>>;

pub(super) fn rotations(writer: Connections) -> Rotations {
    GroupCommit::start(move |spent: Vec<(TenantId, String, Timestamp)>| {
        let writer = writer.clone();
        Box::pin(async move {
            let Some(when) = spent.iter().map(|(_, _, when)| *when).max() else {
                return Ok(Vec::new());
            };
            let wanted: Vec<(TenantId, String)> = spent
                .into_iter()
                .map(|(tenant, token_hash, _)| (tenant, token_hash))
                .collect();
            // One statement decides: no transaction around it.
            let mut db = writer.lend().await?;
            rotate_refresh_tokens(&mut db, &wanted, when).await
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

    pub(super) async fn rotate_refresh(
        &self,
        tenant: TenantId,
        token_hash: &str,
        when: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        self.rotations
            .write((tenant, token_hash.to_owned(), when))
            .await
    }
}

/// One transaction on the writer connection for a group commit's token records and audit
/// events, of any tenants: each kind in one statement.
#[async_trait::async_trait]
impl BatchRepo for SqliteStore {
    async fn write_batch(&self, issued: &[Issuance], events: &[AuditEvent]) -> StoreResult<()> {
        let refresh: Vec<_> = issued
            .iter()
            .filter_map(|i| i.refresh.as_ref())
            .map(|t| (t.tenant_id, t))
            .collect();
        let mut writer = self.writer.lend().await?;
        let mut tx = writer.begin().await?;
        if !issued.is_empty() {
            let access = issued.iter().map(|i| (i.access.tenant_id, &i.access));
            insert_access_tokens(&mut tx, access).await?;
        }
        if !refresh.is_empty() {
            insert_refresh_tokens(&mut tx, refresh).await?;
        }
        if !events.is_empty() {
            insert_audit_events(&mut tx, events).await?;
        }
        Ok(tx.commit().await?)
    }
}
