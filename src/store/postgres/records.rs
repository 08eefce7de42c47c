//! Audit events (batched by group commit) and browser sessions.

use super::{at, by_tenant, timestamp, PostgresStore, TenantTx};
use crate::domain::{AuditEvent, BrowserSessionRecord, Outcome, TenantId, Timestamp};
use crate::store::decode;
use crate::store::sql::conflict;
use crate::store::{action_filter, AuditQuery, AuditRepo, BrowserSessionRepo, StoreResult};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// Inserts audit events of one tenant in one statement (one round trip).
async fn insert_audit_events(tx: &mut TenantTx, events: &[&AuditEvent]) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Postgres>::new(
        "INSERT INTO audit_events (tenant_id, id, at, action, outcome, actor, target, ip, user_agent, reason, request_id) ",
    );
    insert.push_values(events, |mut row, e| {
        row.push_bind(e.tenant_id.as_uuid())
            .push_bind(e.id)
            .push_bind(at(e.at))
            .push_bind(&e.action)
            .push_bind(e.outcome.as_str())
            .push_bind(&e.actor)
            .push_bind(&e.target)
            .push_bind(&e.ip)
            .push_bind(&e.user_agent)
            .push_bind(&e.reason)
            .push_bind(&e.request_id);
    });
    insert.build().execute(&mut **tx).await?;
    Ok(())
}

#[async_trait]
impl AuditRepo for PostgresStore {
    async fn append(&self, e: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.tenant(e.tenant_id).await?;
        insert_audit_events(&mut tx, &[e]).await?;
        Ok(tx.commit().await?)
    }

    async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.batch().await?;
        for (tenant, group) in by_tenant(events, |e| e.tenant_id) {
            tx.rescope(tenant).await?;
            insert_audit_events(&mut tx, &group).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn recent(
        &self,
        tenant: TenantId,
        actor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let query = AuditQuery {
            actor: actor.map(str::to_owned),
            ..AuditQuery::default()
        };
        self.search(tenant, &query, None, limit).await
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let (action, below) = action_filter(query);
        let mut tx = self.tenant(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE tenant_id = $1
               AND ($2::uuid IS NULL OR id < $2)
               AND ($3::text IS NULL OR actor = $3)
               AND ($4::text IS NULL OR target = $4)
               AND ($5::text IS NULL OR (CASE WHEN $6 THEN left(action, length($5)) = $5
                                              ELSE action = $5 END))
               AND ($7::text IS NULL OR outcome = $7)
               AND ($8::timestamptz IS NULL OR at >= $8)
               AND ($9::timestamptz IS NULL OR at < $9)
             ORDER BY id DESC LIMIT $10",
        )
        .bind(tenant.as_uuid())
        .bind(before)
        .bind(&query.actor)
        .bind(&query.target)
        .bind(action)
        .bind(below)
        .bind(query.outcome.map(Outcome::as_str))
        .bind(query.from.map(at))
        .bind(query.until.map(at))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEvent {
                    id: row.get("id"),
                    tenant_id: row.get::<Uuid, _>("tenant_id").into(),
                    at: timestamp(row.get("at")),
                    action: row.get("action"),
                    outcome: decode::outcome(row.get("outcome"))?,
                    actor: row.get("actor"),
                    target: row.get("target"),
                    ip: row.get("ip"),
                    user_agent: row.get("user_agent"),
                    reason: row.get("reason"),
                    request_id: row.get("request_id"),
                })
            })
            .collect()
    }

    async fn purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge("audit_events", "at", before, limit).await
    }
}

#[async_trait]
impl BrowserSessionRepo for PostgresStore {
    async fn create(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3)")
            .bind(&r.id_hash)
            .bind(&r.data)
            .bind(at(r.expires_at))
            .execute(&self.pool)
            .await
            .map_err(conflict("browser session"))?;
        Ok(())
    }

    async fn save(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&r.id_hash)
        .bind(&r.data)
        .bind(at(r.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<BrowserSessionRecord>> {
        let row =
            sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(at(now))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| BrowserSessionRecord {
            id_hash: row.get("id_hash"),
            data: row.get("data"),
            expires_at: timestamp(row.get("expires_at")),
        }))
    }

    async fn delete(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge("browser_sessions", "expires_at", before, limit)
            .await
    }
}
