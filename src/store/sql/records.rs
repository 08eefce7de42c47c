//! Sign-ins, consents and signing keys, one implementation for SQLite and PostgreSQL.

/// Implements `SessionRepo`, `ConsentRepo` and `SigningKeyRepo` for a sqlx store (`$store`,
/// whose rows are `$row`).
macro_rules! records_repo {
    ($store:ident, $row:ty) => {
        mod records_statements {
            use super::$store;
            use crate::domain::{Consent, SigningAlg, SigningKey, TenantId, Timestamp, UserId, UserSession};
            use crate::store::sql::{conflict, Finish};
            use crate::store::{
                decode, ConsentRepo, SessionRepo, SigningKeyRepo, StoreError, StoreResult,
            };
            use sqlx::{types::Json, Row};

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
                    db.finish().await?;
                    Ok(done.rows_affected() == 1)
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
            }
        }
    };
}

pub(crate) use records_repo;
