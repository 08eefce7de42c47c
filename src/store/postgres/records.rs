//! Sessions, consents, signing keys, audit events and browser sessions.

use super::{at, by_tenant, purge, purge_where, rescope, timestamp, PostgresStore};
use crate::domain::SigningAlg;
use crate::domain::{
    AuditEvent, BrowserSessionRecord, Consent, Outcome, SigningKey, TenantId, Timestamp, UserId,
    UserSession,
};
use crate::store::decode;
use crate::store::sql::{conflict, unavailable};
use crate::store::{
    action_filter, AuditQuery, AuditRepo, BrowserSessionRepo, ConsentRepo, SessionRepo,
    SigningKeyRepo, StoreError, StoreResult,
};
use async_trait::async_trait;
use sqlx::{postgres::PgRow, types::Json, Postgres, QueryBuilder, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

fn session_from_row(row: &PgRow) -> UserSession {
    let Json(amr): Json<Vec<String>> = row.get("amr");
    UserSession {
        id: row.get("id"),
        tenant_id: row.get::<Uuid, _>("tenant_id").into(),
        user_id: row.get::<Uuid, _>("user_id").into(),
        auth_time: timestamp(row.get("auth_time")),
        amr,
        ip: row.get("ip"),
        user_agent: row.get("user_agent"),
        created_at: timestamp(row.get("created_at")),
        last_seen_at: timestamp(row.get("last_seen_at")),
        expires_at: timestamp(row.get("expires_at")),
        revoked_at: row
            .get::<Option<OffsetDateTime>, _>("revoked_at")
            .map(timestamp),
    }
}

#[async_trait]
impl SessionRepo for PostgresStore {
    async fn create(&self, tenant: TenantId, s: &UserSession) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO user_sessions (tenant_id, id, user_id, auth_time, amr, ip, user_agent,
                                        created_at, last_seen_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(tenant.as_uuid())
        .bind(&s.id)
        .bind(s.user_id.as_uuid())
        .bind(at(s.auth_time))
        .bind(Json(&s.amr))
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(at(s.created_at))
        .bind(at(s.last_seen_at))
        .bind(at(s.expires_at))
        .bind(s.revoked_at.map(at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("session"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get(&self, tenant: TenantId, id: &str) -> StoreResult<Option<UserSession>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query("SELECT * FROM user_sessions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(row.map(|r| session_from_row(&r)))
    }

    async fn touch(&self, tenant: TenantId, id: &str, when: Timestamp) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "UPDATE user_sessions SET last_seen_at = $1
             WHERE tenant_id = $2 AND id = $3 AND last_seen_at < $1",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn revoke(&self, tenant: TenantId, id: &str, when: Timestamp) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "UPDATE user_sessions SET revoked_at = $1
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn of_user(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<UserSession>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM user_sessions
             WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
             ORDER BY created_at DESC, id",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(at(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(rows.iter().map(session_from_row).collect())
    }

    async fn revoke_all(
        &self,
        tenant: TenantId,
        user: UserId,
        when: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.scoped(tenant).await?;
        let ids = sqlx::query_scalar(
            "UPDATE user_sessions SET revoked_at = $1
             WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING id",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ids)
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        purge(self, "user_sessions", before, limit).await
    }
}

fn consent_from_row(row: &PgRow) -> Consent {
    let Json(scopes): Json<Vec<String>> = row.get("scopes");
    Consent {
        tenant_id: row.get::<Uuid, _>("tenant_id").into(),
        user_id: row.get::<Uuid, _>("user_id").into(),
        client_id: row.get("client_id"),
        scopes,
        granted_at: timestamp(row.get("granted_at")),
    }
}

#[async_trait]
impl ConsentRepo for PostgresStore {
    async fn get(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Consent>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query(
            "SELECT * FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(row.as_ref().map(consent_from_row))
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Consent>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE tenant_id = $1 AND user_id = $2 ORDER BY client_id",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(rows.iter().map(consent_from_row).collect())
    }

    async fn revoke(&self, tenant: TenantId, user: UserId, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "DELETE FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn upsert(&self, tenant: TenantId, c: &Consent) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO consents (tenant_id, user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, user_id, client_id)
             DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(tenant.as_uuid())
        .bind(c.user_id.as_uuid())
        .bind(&c.client_id)
        .bind(Json(&c.scopes))
        .bind(at(c.granted_at))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}

#[async_trait]
impl SigningKeyRepo for PostgresStore {
    async fn insert(&self, tenant: TenantId, k: &SigningKey) -> StoreResult<()> {
        let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)
            .map_err(|e| StoreError::Corrupt(format!("public JWK: {e}")))?;
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO signing_keys (tenant_id, kid, alg, public_jwk, private_key_sealed, state,
                                       created_at, activates_at, retires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant.as_uuid())
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(Json(jwk))
        .bind(&k.private_key_sealed)
        .bind(k.state.as_str())
        .bind(at(k.created_at))
        .bind(at(k.activates_at))
        .bind(k.retires_at.map(at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("signing key"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid",
        )
        .bind(tenant.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let Json(jwk): Json<serde_json::Value> = row.get("public_jwk");
                Ok(SigningKey {
                    tenant_id: row.get::<Uuid, _>("tenant_id").into(),
                    kid: row.get("kid"),
                    alg: decode::signing_alg(row.get("alg"))?,
                    public_jwk: jwk.to_string(),
                    private_key_sealed: row.get("private_key_sealed"),
                    state: decode::key_state(row.get("state"))?,
                    created_at: timestamp(row.get("created_at")),
                    activates_at: timestamp(row.get("activates_at")),
                    retires_at: row
                        .get::<Option<OffsetDateTime>, _>("retires_at")
                        .map(timestamp),
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
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retires_at = $1
             WHERE tenant_id = $2 AND alg = $3 AND state = 'active' AND kid <> $4",
        )
        .bind(at(retire_until))
        .bind(tenant.as_uuid())
        .bind(alg.as_str())
        .bind(kid)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let promoted = sqlx::query(
            "UPDATE signing_keys SET state = 'active' WHERE tenant_id = $1 AND kid = $2 AND state = 'next'",
        )
        .bind(tenant.as_uuid())
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
        let mut tx = self.housekeeping().await?;
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE ctid IN
               (SELECT ctid FROM signing_keys WHERE retires_at < $1 LIMIT $2)",
        )
        .bind(at(before))
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}

/// Inserts audit events of one tenant in one statement (one round trip).
async fn insert_audit_events(
    tx: &mut Transaction<'static, Postgres>,
    events: &[&AuditEvent],
) -> StoreResult<()> {
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
    insert
        .build()
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl AuditRepo for PostgresStore {
    async fn append(&self, e: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.scoped(e.tenant_id).await?;
        insert_audit_events(&mut tx, &[e]).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for (tenant, group) in by_tenant(events, |e| e.tenant_id) {
            rescope(&mut tx, tenant).await?;
            insert_audit_events(&mut tx, &group).await?;
        }
        tx.commit().await.map_err(unavailable)
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
        let mut tx = self.scoped(tenant).await?;
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
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
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
        purge_where(self, "audit_events", "at", before, limit).await
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
            sqlx::query("SELECT * FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(at(now))
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
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
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        purge(self, "browser_sessions", before, limit).await
    }
}
