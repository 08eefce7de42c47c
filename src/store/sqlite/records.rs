//! Audit events (written by the hot paths' writer connection) and browser sessions.

use super::SqliteStore;
use crate::domain::{AuditEvent, BrowserSessionRecord, Outcome, TenantId, Timestamp};
use crate::store::decode::{self, parse};
use crate::store::sql::conflict;
use crate::store::{action_filter, AuditQuery, AuditRepo, BrowserSessionRepo, StoreResult};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

/// Inserts audit events in one statement (one round trip to the connection's worker thread).
async fn insert_audit_events<'c, 'r>(
    db: impl sqlx::SqliteExecutor<'c>,
    events: impl IntoIterator<Item = &'r AuditEvent>,
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO audit_events (tenant_id, id, at, action, outcome, actor, target, ip, user_agent, reason, request_id) ",
    );
    insert.push_values(events, |mut row, e| {
        row.push_bind(e.tenant_id.to_string())
            .push_bind(e.id.to_string())
            .push_bind(e.at.unix())
            .push_bind(&e.action)
            .push_bind(e.outcome.as_str())
            .push_bind(&e.actor)
            .push_bind(&e.target)
            .push_bind(&e.ip)
            .push_bind(&e.user_agent)
            .push_bind(&e.reason)
            .push_bind(&e.request_id);
    });
    insert.build().execute(db).await?;
    Ok(())
}

#[async_trait]
impl AuditRepo for SqliteStore {
    async fn append(&self, e: &AuditEvent) -> StoreResult<()> {
        insert_audit_events(&self.writer, [e]).await
    }

    async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
        insert_audit_events(&self.writer, events).await
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
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE tenant_id = ?1
               AND (?2 IS NULL OR id < ?2)
               AND (?3 IS NULL OR actor = ?3)
               AND (?4 IS NULL OR target = ?4)
               AND (?5 IS NULL OR (CASE WHEN ?6 THEN substr(action, 1, length(?5)) = ?5
                                        ELSE action = ?5 END))
               AND (?7 IS NULL OR outcome = ?7)
               AND (?8 IS NULL OR at >= ?8)
               AND (?9 IS NULL OR at < ?9)
             ORDER BY id DESC LIMIT ?10",
        )
        .bind(tenant.to_string())
        .bind(before.map(|b| b.to_string()))
        .bind(&query.actor)
        .bind(&query.target)
        .bind(action)
        .bind(below)
        .bind(query.outcome.map(Outcome::as_str))
        .bind(query.from.map(Timestamp::unix))
        .bind(query.until.map(Timestamp::unix))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEvent {
                    id: parse(row.get("id"))?,
                    tenant_id: parse(row.get("tenant_id"))?,
                    at: Timestamp::from_unix(row.get("at")),
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
impl BrowserSessionRepo for SqliteStore {
    async fn create(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES (?, ?, ?)")
            .bind(&r.id_hash)
            .bind(&r.data)
            .bind(r.expires_at.unix())
            .execute(&self.pool)
            .await
            .map_err(conflict("browser session"))?;
        Ok(())
    }

    async fn save(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&r.id_hash)
        .bind(&r.data)
        .bind(r.expires_at.unix())
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
            sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = ? AND expires_at > ?")
                .bind(id_hash)
                .bind(now.unix())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| BrowserSessionRecord {
            id_hash: row.get("id_hash"),
            data: row.get("data"),
            expires_at: Timestamp::from_unix(row.get("expires_at")),
        }))
    }

    async fn delete(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = ?")
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
