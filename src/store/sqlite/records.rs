//! Sessions, consents, signing keys, audit events and browser sessions.

use super::{purge, SqliteStore};
use crate::domain::SigningAlg;
use crate::domain::{
    AuditEvent, BrowserSessionRecord, Consent, Outcome, SigningKey, TenantId, Timestamp, UserId,
    UserSession,
};
use crate::store::decode::{self, parse};
use crate::store::sql::{conflict, unavailable};
use crate::store::{
    action_filter, from_json, to_json, AuditQuery, AuditRepo, BrowserSessionRepo, ConsentRepo,
    SessionRepo, SigningKeyRepo, StoreResult,
};
use async_trait::async_trait;
use sqlx::{sqlite::SqliteRow, QueryBuilder, Row, Sqlite};
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
    insert.build().execute(db).await.map_err(unavailable)?;
    Ok(())
}

fn session_from_row(row: &SqliteRow) -> StoreResult<UserSession> {
    Ok(UserSession {
        id: row.get("id"),
        tenant_id: parse(row.get("tenant_id"))?,
        user_id: parse(row.get("user_id"))?,
        auth_time: Timestamp::from_unix(row.get("auth_time")),
        amr: from_json(row.get("amr"))?,
        ip: row.get("ip"),
        user_agent: row.get("user_agent"),
        created_at: Timestamp::from_unix(row.get("created_at")),
        last_seen_at: Timestamp::from_unix(row.get("last_seen_at")),
        expires_at: Timestamp::from_unix(row.get("expires_at")),
        revoked_at: row
            .get::<Option<i64>, _>("revoked_at")
            .map(Timestamp::from_unix),
    })
}

#[async_trait]
impl SessionRepo for SqliteStore {
    async fn create(&self, tenant: TenantId, s: &UserSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_sessions (tenant_id, id, user_id, auth_time, amr, ip, user_agent,
                                        created_at, last_seen_at, expires_at, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(&s.id)
        .bind(s.user_id.to_string())
        .bind(s.auth_time.unix())
        .bind(to_json(&s.amr))
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.created_at.unix())
        .bind(s.last_seen_at.unix())
        .bind(s.expires_at.unix())
        .bind(s.revoked_at.map(Timestamp::unix))
        .execute(&self.pool)
        .await
        .map_err(conflict("session"))?;
        Ok(())
    }

    async fn get(&self, tenant: TenantId, id: &str) -> StoreResult<Option<UserSession>> {
        sqlx::query("SELECT * FROM user_sessions WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| session_from_row(&r))
            .transpose()
    }

    async fn touch(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE user_sessions SET last_seen_at = ? WHERE tenant_id = ? AND id = ? AND last_seen_at < ?")
            .bind(at.unix())
            .bind(tenant.to_string())
            .bind(id)
            .bind(at.unix())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revoke(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE user_sessions SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL")
            .bind(at.unix())
            .bind(tenant.to_string())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn of_user(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<UserSession>> {
        let rows = sqlx::query(
            "SELECT * FROM user_sessions
             WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?
             ORDER BY created_at DESC, id",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(now.unix())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_all(
        &self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "UPDATE user_sessions SET revoked_at = ?
             WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL RETURNING id",
        )
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        purge(&self.pool, "user_sessions", before, limit).await
    }
}

fn consent_from_row(row: &SqliteRow) -> StoreResult<Consent> {
    Ok(Consent {
        tenant_id: parse(row.get("tenant_id"))?,
        user_id: parse(row.get("user_id"))?,
        client_id: row.get("client_id"),
        scopes: from_json(row.get("scopes"))?,
        granted_at: Timestamp::from_unix(row.get("granted_at")),
    })
}

#[async_trait]
impl ConsentRepo for SqliteStore {
    async fn get(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Consent>> {
        let row = sqlx::query(
            "SELECT * FROM consents WHERE tenant_id = ? AND user_id = ? AND client_id = ?",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref().map(consent_from_row).transpose()
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Consent>> {
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE tenant_id = ? AND user_id = ? ORDER BY client_id",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(consent_from_row).collect()
    }

    async fn revoke(&self, tenant: TenantId, user: UserId, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM consents WHERE tenant_id = ? AND user_id = ? AND client_id = ?",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(client_id)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn upsert(&self, tenant: TenantId, c: &Consent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (tenant_id, user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(tenant.to_string())
        .bind(c.user_id.to_string())
        .bind(&c.client_id)
        .bind(to_json(&c.scopes))
        .bind(c.granted_at.unix())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl SigningKeyRepo for SqliteStore {
    async fn insert(&self, tenant: TenantId, k: &SigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (tenant_id, kid, alg, public_jwk, private_key_sealed, state,
                                       created_at, activates_at, retires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(&k.public_jwk)
        .bind(&k.private_key_sealed)
        .bind(k.state.as_str())
        .bind(k.created_at.unix())
        .bind(k.activates_at.unix())
        .bind(k.retires_at.map(Timestamp::unix))
        .execute(&self.pool)
        .await
        .map_err(conflict("signing key"))?;
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
        let rows = sqlx::query(
            "SELECT * FROM signing_keys WHERE tenant_id = ? ORDER BY created_at DESC, kid",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKey {
                    tenant_id: parse(row.get("tenant_id"))?,
                    kid: row.get("kid"),
                    alg: decode::signing_alg(row.get("alg"))?,
                    public_jwk: row.get("public_jwk"),
                    private_key_sealed: row.get("private_key_sealed"),
                    state: decode::key_state(row.get("state"))?,
                    created_at: Timestamp::from_unix(row.get("created_at")),
                    activates_at: Timestamp::from_unix(row.get("activates_at")),
                    retires_at: row
                        .get::<Option<i64>, _>("retires_at")
                        .map(Timestamp::from_unix),
                })
            })
            .collect()
    }

    async fn promote(
        &self,
        tenant: TenantId,
        alg: SigningAlg,
        kid: &str,
        retire_until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retires_at = ?
             WHERE tenant_id = ? AND alg = ? AND state = 'active' AND kid <> ?",
        )
        .bind(retire_until.unix())
        .bind(tenant.to_string())
        .bind(alg.as_str())
        .bind(kid)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let promoted = sqlx::query(
            "UPDATE signing_keys SET state = 'active' WHERE tenant_id = ? AND kid = ? AND state = 'next'",
        )
        .bind(tenant.to_string())
        .bind(kid)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if promoted {
            tx.commit().await.map_err(unavailable)?;
        }
        Ok(promoted)
    }

    async fn purge_retired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE rowid IN
               (SELECT rowid FROM signing_keys WHERE retires_at < ? LIMIT ?)",
        )
        .bind(before.unix())
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }
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
        .await
        .map_err(unavailable)?;
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
        let done = sqlx::query(
            "DELETE FROM audit_events WHERE rowid IN
               (SELECT rowid FROM audit_events WHERE at < ? LIMIT ?)",
        )
        .bind(before.unix())
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
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
        .await
        .map_err(unavailable)?;
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
                .await
                .map_err(unavailable)?;
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
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        purge(&self.pool, "browser_sessions", before, limit).await
    }
}
