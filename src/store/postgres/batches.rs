//! What PostgreSQL does its own way: the group commit's writes (token records, audit events),
//! each tenant's rows under its row-level security, and where the token hot paths run.

use super::artifact_statements::{
    insert_access_tokens, insert_refresh_tokens, rotate_refresh_tokens, select_access_tokens,
};
use super::records_statements::insert_audit_events;
use super::{by_tenant, PostgresStore, TenantTx};
use crate::domain::{AccessTokenRecord, AuditEvent, RefreshToken, TenantId, Timestamp};
use crate::store::sql::Finish;
use crate::store::{BatchRepo, Issuance, Redemption, StoreResult};

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

    /// A refresh-token rotation in the tenant's own transaction; the row lock of its UPDATE
    /// decides a race between processes.
    pub(super) async fn rotate_refresh(
        &self,
        tenant: TenantId,
        token_hash: &str,
        when: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        let mut db = self.hot(tenant).await?;
        let mut outcome =
            rotate_refresh_tokens(&mut db, &[(tenant, token_hash.to_owned())], when).await?;
        db.finish().await?;
        Ok(outcome.pop().unwrap_or(Redemption::Unknown))
    }
}

/// One transaction for a group commit's token records and audit events, each tenant's rows
/// under that tenant's row-level security.
#[async_trait::async_trait]
impl BatchRepo for PostgresStore {
    async fn write_batch(&self, issued: &[Issuance], events: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.batch().await?;
        for (tenant, group) in by_tenant(issued, |i| i.access.tenant_id) {
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
        for (tenant, group) in by_tenant(events, |e| e.tenant_id) {
            tx.rescope(tenant).await?;
            insert_audit_events(&mut tx, group).await?;
        }
        Ok(tx.commit().await?)
    }
}
