//! What SQLite does its own way: the group commit's writes (token records, audit events), and
//! where the token hot paths run.

use super::artifact_statements::{insert_access_tokens, insert_refresh_tokens};
use super::records_statements::insert_audit_events;
use super::SqliteStore;
use crate::domain::{AuditEvent, TenantId};
use crate::store::{Issuance, StoreResult};
use sqlx::{pool::PoolConnection, Sqlite};

impl SqliteStore {
    /// Where the statements of the token hot paths run: the one writer connection. They queue
    /// for it in this process instead of sleeping on SQLite's write lock, and its page cache
    /// stays warm for the reads that follow a write (refresh-token rotation).
    pub(super) async fn hot(
        &self,
        _tenant: TenantId,
    ) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        self.writer.acquire().await
    }

    /// Writes a group commit's token records, of any tenants: one statement, or one
    /// transaction of two when refresh tokens come too.
    pub(super) async fn record_batch(&self, issued: &[Issuance]) -> StoreResult<()> {
        let access = issued.iter().map(|i| (i.access.tenant_id, &i.access));
        let refresh: Vec<_> = issued
            .iter()
            .filter_map(|i| i.refresh.as_ref())
            .map(|t| (t.tenant_id, t))
            .collect();
        if refresh.is_empty() {
            // One statement is a transaction of its own.
            return insert_access_tokens(&mut *self.writer.acquire().await?, access).await;
        }
        let mut tx = self.writer.begin().await?;
        insert_access_tokens(&mut tx, access).await?;
        insert_refresh_tokens(&mut tx, refresh).await?;
        Ok(tx.commit().await?)
    }

    /// Writes a group commit's audit events, of any tenants, in one statement.
    pub(super) async fn record_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        insert_audit_events(&mut *self.writer.acquire().await?, events).await
    }
}
