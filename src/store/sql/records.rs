//! Sign-ins, consents, signing keys, audit events and browser sessions, one implementation for
//! SQLite and PostgreSQL.

/// Implements `SessionRepo`, `ConsentRepo`, `SigningKeyRepo`, `AuditRepo` and
/// `BrowserSessionRepo` for a sqlx store (`$store`, whose rows are `$row`). Audit events are
/// written by the store's `BatchRepo`, as the group commit writes them.
macro_rules! records_repo {
    ($store:ident, $row:ty) => {
        mod records_statements {
            use super::$store;
            use crate::domain::{
                AuditEvent, BrowserSessionRecord, Consent, Outcome, SigningAlg, SigningKey,
                TenantId, Timestamp, UserId, UserSession,
            };
            use crate::store::sql::{conflict, Finish, Id};
            use crate::store::{
                action_filter, decode, AuditQuery, AuditRepo, BatchRepo, BrowserSessionRepo, ConsentRepo,
                SessionRepo, SigningKeyRepo, StoreError, StoreResult,
            };
            use sqlx::{types::Json, QueryBuilder, Row};
            use uuid::Uuid;

            type Db = <$row as Row>::Database;

            /// Adds the INSERT of audit events to `query`: one statement for all.
            pub(super) fn push_audit_events<'r>(
                query: &mut QueryBuilder<'r, Db>,
                events: impl IntoIterator<Item = &'r AuditEvent>,
            ) {
                query.push(
                    "INSERT INTO audit_events (tenant_id, id, at, action, outcome, actor, target,
                       ip, user_agent, reason, request_id) ",
                );
                query.push_values(events, |mut row, e| {
                    row.push_bind(e.tenant_id)
                        .push_bind(Id(e.id))
                        .push_bind(e.at)
                        .push_bind(&e.action)
                        .push_bind(e.outcome.as_str())
                        .push_bind(&e.actor)
                        .push_bind(&e.target)
                        .push_bind(&e.ip)
                        .push_bind(&e.user_agent)
                        .push_bind(&e.reason)
                        .push_bind(&e.request_id);
                });
            }

            fn session_from_row(row: &$row) -> StoreResult<UserSession> {
                let Json(amr): Json<Vec<String>> = row.try_get("amr")?;
                Ok(UserSession {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    user_id: row.try_get("user_id")?,
                    auth_time: row.try_get("auth_time")?,
                    amr,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            #[async_trait::async_trait]
            impl SessionRepo for $store {
                async fn create(&self, tenant: TenantId, s: &UserSession) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO user_sessions (tenant_id, id, user_id, auth_time, amr, ip, user_agent,
                                                    created_at, last_seen_at, expires_at, revoked_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant)
                    .bind(&s.id)
                    .bind(s.user_id)
                    .bind(s.auth_time)
                    .bind(Json(&s.amr))
                    .bind(&s.ip)
                    .bind(&s.user_agent)
                    .bind(s.created_at)
                    .bind(s.last_seen_at)
                    .bind(s.expires_at)
                    .bind(s.revoked_at)
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("session"))?;
                    Ok(db.finish().await?)
                }

                async fn get(&self, tenant: TenantId, id: &str) -> StoreResult<Option<UserSession>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM user_sessions WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .fetch_optional(&mut *db)
                        .await?;
                    db.finish().await?;
                    row.map(|r| session_from_row(&r)).transpose()
                }

                async fn touch(&self, tenant: TenantId, id: &str, when: Timestamp) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "UPDATE user_sessions SET last_seen_at = $1
                         WHERE tenant_id = $2 AND id = $3 AND last_seen_at < $1",
                    )
                    .bind(when)
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish().await?)
                }

                async fn revoke(&self, tenant: TenantId, id: &str, when: Timestamp) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "UPDATE user_sessions SET revoked_at = $1
                         WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
                    )
                    .bind(when)
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish().await?)
                }

                async fn of_user(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    now: Timestamp,
                ) -> StoreResult<Vec<UserSession>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM user_sessions
                         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
                         ORDER BY created_at DESC, id",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(now)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(session_from_row).collect()
                }

                async fn revoke_all(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    when: Timestamp,
                ) -> StoreResult<Vec<String>> {
                    let mut db = self.tenant(tenant).await?;
                    let ids = sqlx::query_scalar(
                        "UPDATE user_sessions SET revoked_at = $1
                         WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING id",
                    )
                    .bind(when)
                    .bind(tenant)
                    .bind(user)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(ids)
                }

                async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
                    self.purge("user_sessions", "expires_at", before, limit).await
                }
            }

            fn consent_from_row(row: &$row) -> StoreResult<Consent> {
                let Json(scopes): Json<Vec<String>> = row.try_get("scopes")?;
                Ok(Consent {
                    tenant_id: row.try_get("tenant_id")?,
                    user_id: row.try_get("user_id")?,
                    client_id: row.try_get("client_id")?,
                    scopes,
                    granted_at: row.try_get("granted_at")?,
                })
            }

            #[async_trait::async_trait]
            impl ConsentRepo for $store {
                async fn get(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    client_id: &str,
                ) -> StoreResult<Option<Consent>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(client_id)
                    .fetch_optional(&mut *db)
                    .await?;
                    db.finish().await?;
                    row.as_ref().map(consent_from_row).transpose()
                }

                async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Consent>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM consents WHERE tenant_id = $1 AND user_id = $2 ORDER BY client_id",
                    )
                    .bind(tenant)
                    .bind(user)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(consent_from_row).collect()
                }

                async fn revoke(&self, tenant: TenantId, user: UserId, client_id: &str) -> StoreResult<bool> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "DELETE FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(client_id)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn upsert(&self, tenant: TenantId, c: &Consent) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO consents (tenant_id, user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (tenant_id, user_id, client_id)
                         DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
                    )
                    .bind(tenant)
                    .bind(c.user_id)
                    .bind(&c.client_id)
                    .bind(Json(&c.scopes))
                    .bind(c.granted_at)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish().await?)
                }
            }

            #[async_trait::async_trait]
            impl SigningKeyRepo for $store {
                async fn insert(&self, tenant: TenantId, k: &SigningKey) -> StoreResult<()> {
                    let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)
                        .map_err(|e| StoreError::Corrupt(format!("public JWK: {e}")))?;
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO signing_keys (tenant_id, kid, alg, public_jwk, private_key_sealed, state,
                                                   created_at, activates_at, retires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(tenant)
                    .bind(&k.kid)
                    .bind(k.alg.as_str())
                    .bind(Json(jwk))
                    .bind(&k.private_key_sealed)
                    .bind(k.state.as_str())
                    .bind(k.created_at)
                    .bind(k.activates_at)
                    .bind(k.retires_at)
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("signing key"))?;
                    Ok(db.finish().await?)
                }

                async fn list(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid",
                    )
                    .bind(tenant)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter()
                        .map(|row| {
                            let Json(jwk): Json<serde_json::Value> = row.try_get("public_jwk")?;
                            Ok(SigningKey {
                                tenant_id: row.try_get("tenant_id")?,
                                kid: row.try_get("kid")?,
                                alg: decode::signing_alg(row.try_get("alg")?)?,
                                public_jwk: jwk.to_string(),
                                private_key_sealed: row.try_get("private_key_sealed")?,
                                state: decode::key_state(row.try_get("state")?)?,
                                created_at: row.try_get("created_at")?,
                                activates_at: row.try_get("activates_at")?,
                                retires_at: row.try_get("retires_at")?,
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
                    let mut db = self.tenant_tx(tenant).await?;
                    sqlx::query(
                        "UPDATE signing_keys SET state = 'retired', retires_at = $1
                         WHERE tenant_id = $2 AND alg = $3 AND state = 'active' AND kid <> $4",
                    )
                    .bind(retire_until)
                    .bind(tenant)
                    .bind(alg.as_str())
                    .bind(kid)
                    .execute(&mut *db)
                    .await?;
                    let promoted = sqlx::query(
                        "UPDATE signing_keys SET state = 'active' WHERE tenant_id = $1 AND kid = $2 AND state = 'next'",
                    )
                    .bind(tenant)
                    .bind(kid)
                    .execute(&mut *db)
                    .await?
                    .rows_affected()
                        == 1;
                    if promoted {
                        db.finish().await?;
                    }
                    Ok(promoted)
                }

                async fn purge_retired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
                    self.purge("signing_keys", "retires_at", before, limit).await
                }

                async fn due_for_rotation(
                    &self,
                    before: Timestamp,
                    limit: u32,
                ) -> StoreResult<Vec<(TenantId, SigningAlg)>> {
                    let mut tx = self.housekeeping().await?;
                    let rows = sqlx::query(
                        "SELECT k.tenant_id, k.alg FROM signing_keys k
                         WHERE k.state = 'active' AND k.activates_at <= $1
                           AND NOT EXISTS (SELECT 1 FROM signing_keys n
                                           WHERE n.tenant_id = k.tenant_id AND n.alg = k.alg AND n.state = 'next')
                         ORDER BY k.activates_at, k.tenant_id LIMIT $2",
                    )
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    rows.iter()
                        .map(|row| Ok((row.try_get("tenant_id")?, decode::signing_alg(row.try_get("alg")?)?)))
                        .collect()
                }
            }

            #[async_trait::async_trait]
            impl AuditRepo for $store {
                async fn append(&self, e: &AuditEvent) -> StoreResult<()> {
                    self.write_batch(&[], &[], std::slice::from_ref(e), &[]).await.map(drop)
                }

                async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
                    self.write_batch(&[], &[], events, &[]).await.map(drop)
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
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM audit_events WHERE tenant_id = $1
                           AND ($2 IS NULL OR id < $2)
                           AND ($3 IS NULL OR actor = $3)
                           AND ($4 IS NULL OR target = $4)
                           AND ($5 IS NULL OR (CASE WHEN $6 THEN substr(action, 1, length($5)) = $5
                                                    ELSE action = $5 END))
                           AND ($7 IS NULL OR outcome = $7)
                           AND ($8 IS NULL OR at >= $8)
                           AND ($9 IS NULL OR at < $9)
                         ORDER BY id DESC LIMIT $10",
                    )
                    .bind(tenant)
                    .bind(before.map(Id))
                    .bind(&query.actor)
                    .bind(&query.target)
                    .bind(action)
                    .bind(below)
                    .bind(query.outcome.map(Outcome::as_str))
                    .bind(query.from)
                    .bind(query.until)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter()
                        .map(|row| {
                            Ok(AuditEvent {
                                id: row.try_get::<Id, _>("id")?.0,
                                tenant_id: row.try_get("tenant_id")?,
                                at: row.try_get("at")?,
                                action: row.try_get("action")?,
                                outcome: decode::outcome(row.try_get("outcome")?)?,
                                actor: row.try_get("actor")?,
                                target: row.try_get("target")?,
                                ip: row.try_get("ip")?,
                                user_agent: row.try_get("user_agent")?,
                                reason: row.try_get("reason")?,
                                request_id: row.try_get("request_id")?,
                            })
                        })
                        .collect()
                }

                async fn purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
                    self.purge("audit_events", "at", before, limit).await
                }
            }

            /// Browser sessions belong to no tenant (a session may sign in to several).
            #[async_trait::async_trait]
            impl BrowserSessionRepo for $store {
                async fn create(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3)",
                    )
                    .bind(&r.id_hash)
                    .bind(&r.data)
                    .bind(r.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict("browser session"))?;
                    Ok(())
                }

                async fn save(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3)
                         ON CONFLICT (id_hash)
                         DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                    )
                    .bind(&r.id_hash)
                    .bind(&r.data)
                    .bind(r.expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn load(
                    &self,
                    id_hash: &str,
                    now: Timestamp,
                ) -> StoreResult<Option<BrowserSessionRecord>> {
                    let row = sqlx::query(
                        "SELECT * FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2",
                    )
                    .bind(id_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|row| {
                        Ok(BrowserSessionRecord {
                            id_hash: row.try_get("id_hash")?,
                            data: row.try_get("data")?,
                            expires_at: row.try_get("expires_at")?,
                        })
                    })
                    .transpose()
                }

                async fn delete(&self, id_hash: &str) -> StoreResult<()> {
                    sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
                    self.purge("browser_sessions", "expires_at", before, limit).await
                }
            }
        }
    };
}

pub(crate) use records_repo;
