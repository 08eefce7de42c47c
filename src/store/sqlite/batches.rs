//! What SQLite does its own way: the group commit's writes (token records, audit events), and
//! where the token hot paths run.

use super::artifact_statements::{insert_access_tokens, insert_refresh_tokens};
use super::connections::Lent;
use super::records_statements::insert_audit_events;
use super::SqliteStore;
use crate::domain::{AuditEvent, TenantId};
use crate::store::{BatchRepo, Issuance, StoreResult};
use sqlx::Connection;

impl SqliteStore {
    /// Where the statements of the token hot paths run: the one writer connection. They queue
    /// for it in this process instead of sleeping on SQLite's write lock, and its page cache
    /// stays warm for the reads that follow a write (refresh-token rotation).
    pub(super) async fn hot(&self, _tenant: TenantId) -> Result<Lent, sqlx::Error> {
        self.writer.lend().await
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
