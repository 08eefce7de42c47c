//! Login flows, authorization codes, token records and short-lived records, one implementation
//! for SQLite and PostgreSQL. Only the batch write of the group commit differs: each backend
//! implements `BatchRepo` itself.

/// Implements `OidcArtifactRepo` for a sqlx store (`$store`, whose rows are `$row`). Besides
/// `tenant` and `tenant_tx`, the store has `hot(id)`: where the statements of the token hot
/// paths run (SQLite: its one writer connection, whose page cache stays warm), and it
/// implements `BatchRepo`, the group commit's write (which rotates refresh tokens too, with
/// the shared [`rotate_refresh_tokens`]), and `read_access_token` (the revocation check of
/// every access token presented), which SQLite batches.
macro_rules! artifact_repo {
    ($store:ident, $row:ty) => {
        mod artifact_statements {
            use super::$store;
            use crate::domain::{
                AccessTokenRecord, AuthorizationCode, LoginFlow, RefreshToken, TenantId,
                Timestamp, UserId,
            };
            use crate::store::sql::{conflict, Finish};
            use crate::store::{
                BatchRepo, Ephemeral, Issuance, OidcArtifactRepo, Redemption, StoreError,
                StoreResult,
            };
            use sqlx::{types::Json, Database, QueryBuilder, Row};

            type Db = <$row as Row>::Database;
            type Connection = <Db as Database>::Connection;

            /// Adds the INSERT of access-token records to `query`: one statement for all.
            pub(super) fn push_access_tokens<'r>(
                query: &mut QueryBuilder<'r, Db>,
                rows: impl IntoIterator<Item = (TenantId, &'r AccessTokenRecord)>,
            ) {
                query.push(
                    "INSERT INTO access_tokens (tenant_id, jti, client_id, user_id, scopes,
                       code_hash, family_id, issued_at, expires_at, revoked_at) ",
                );
                query.push_values(rows, |mut row, (tenant, t)| {
                    row.push_bind(tenant)
                        .push_bind(&t.jti)
                        .push_bind(&t.client_id)
                        .push_bind(t.user_id)
                        .push_bind(Json(&t.scopes))
                        .push_bind(&t.code_hash)
                        .push_bind(&t.family_id)
                        .push_bind(t.issued_at)
                        .push_bind(t.expires_at)
                        .push_bind(t.revoked_at);
                });
            }

            /// Inserts access-token records in one statement (one round trip).
            pub(super) async fn insert_access_tokens<'r>(
                db: &mut Connection,
                rows: impl IntoIterator<Item = (TenantId, &'r AccessTokenRecord)>,
            ) -> StoreResult<()> {
                let mut insert = QueryBuilder::<Db>::new("");
                push_access_tokens(&mut insert, rows);
                insert
                    .build()
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("access token"))?;
                Ok(())
            }

            /// The access-token records of `wanted` (tenant and `jti`), those that exist, in one
            /// statement: each tenant's tokens by the primary key.
            pub(super) async fn select_access_tokens(
                db: &mut Connection,
                wanted: &[(TenantId, String)],
            ) -> StoreResult<Vec<AccessTokenRecord>> {
                let mut select = QueryBuilder::<Db>::new("SELECT * FROM access_tokens WHERE ");
                push_keys_by_tenant(&mut select, "jti", wanted);
                let rows = select.build().fetch_all(&mut *db).await?;
                rows.iter()
                    .map(|row| {
                        Ok(AccessTokenRecord {
                            jti: row.try_get("jti")?,
                            tenant_id: row.try_get("tenant_id")?,
                            client_id: row.try_get("client_id")?,
                            user_id: row.try_get("user_id")?,
                            scopes: row.try_get::<Json<Vec<String>>, _>("scopes")?.0,
                            code_hash: row.try_get("code_hash")?,
                            family_id: row.try_get("family_id")?,
                            issued_at: row.try_get("issued_at")?,
                            expires_at: row.try_get("expires_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                        })
                    })
                    .collect()
            }

            /// Adds the INSERT of refresh tokens to `query`, as [`push_access_tokens`].
            pub(super) fn push_refresh_tokens<'r>(
                query: &mut QueryBuilder<'r, Db>,
                rows: impl IntoIterator<Item = (TenantId, &'r RefreshToken)>,
            ) {
                query.push(
                    "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, data,
                       expires_at, rotated_at, revoked_at, bound_session_id) ",
                );
                query.push_values(rows, |mut row, (tenant, t)| {
                    row.push_bind(tenant)
                        .push_bind(&t.token_hash)
                        .push_bind(&t.family_id)
                        .push_bind(Json(t))
                        .push_bind(t.expires_at)
                        .push_bind(t.rotated_at)
                        .push_bind(t.revoked_at)
                        .push_bind(t.session_bound.then_some(&t.session_id));
                });
            }

            /// Inserts refresh tokens in one statement, as [`insert_access_tokens`].
            pub(super) async fn insert_refresh_tokens<'r>(
                db: &mut Connection,
                rows: impl IntoIterator<Item = (TenantId, &'r RefreshToken)>,
            ) -> StoreResult<()> {
                let mut insert = QueryBuilder::<Db>::new("");
                push_refresh_tokens(&mut insert, rows);
                insert
                    .build()
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("refresh token"))?;
                Ok(())
            }

            /// The stored token, with the authoritative spent and revoked times from their
            /// columns.
            fn refresh_from_row(row: &$row) -> StoreResult<RefreshToken> {
                let Json(mut token): Json<RefreshToken> = row.try_get("data")?;
                token.rotated_at = row.try_get("rotated_at")?;
                token.revoked_at = row.try_get("revoked_at")?;
                Ok(token)
            }

            /// Spends the refresh tokens `wanted` (tenant and hash) at `when`, and answers for
            /// each in order. One UPDATE decides every race, as for codes: a token it spent is
            /// `Redeemed` for the first of `wanted` that names it and `AlreadyUsed` for any
            /// other; the tokens it did not spend are read in one more statement to tell a
            /// reused one from an unknown one.
            pub(super) async fn rotate_refresh_tokens(
                db: &mut Connection,
                wanted: &[(TenantId, String)],
                when: Timestamp,
            ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
                let mut update = QueryBuilder::<Db>::new("");
                push_rotation(&mut update, wanted, when);
                let spent = update.build().fetch_all(&mut *db).await?;
                rotation_outcomes(db, wanted, spent).await
            }

            /// Adds the UPDATE of [`rotate_refresh_tokens`] to `query`.
            pub(super) fn push_rotation<'a>(
                query: &mut QueryBuilder<'a, Db>,
                wanted: &'a [(TenantId, String)],
                when: Timestamp,
            ) {
                query
                    .push("UPDATE refresh_tokens SET rotated_at = ")
                    .push_bind(when)
                    .push(" WHERE rotated_at IS NULL AND revoked_at IS NULL AND (");
                push_keys_by_tenant(query, "token_hash", wanted);
                query.push(") RETURNING *");
            }

            /// The answers of [`rotate_refresh_tokens`], from the rows its UPDATE spent.
            pub(super) async fn rotation_outcomes(
                db: &mut Connection,
                wanted: &[(TenantId, String)],
                spent: Vec<$row>,
            ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
                let mut spent = by_key(spent)?;
                let mut outcomes: Vec<Option<Redemption<RefreshToken>>> = wanted
                    .iter()
                    .map(|key| {
                        spent.get_mut(key).map(|(token, first)| {
                            if std::mem::take(first) {
                                Redemption::Redeemed(token.clone())
                            } else {
                                Redemption::AlreadyUsed(token.clone())
                            }
                        })
                    })
                    .collect();
                let missing: Vec<(TenantId, String)> = wanted
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, outcome)| outcome.is_none())
                    .map(|(key, _)| key.clone())
                    .collect();
                if !missing.is_empty() {
                    let mut select = QueryBuilder::<Db>::new("SELECT * FROM refresh_tokens WHERE ");
                    push_keys_by_tenant(&mut select, "token_hash", &missing);
                    let known = by_key(select.build().fetch_all(&mut *db).await?)?;
                    for (key, outcome) in wanted.iter().zip(&mut outcomes) {
                        if outcome.is_none() {
                            *outcome = Some(match known.get(key) {
                                Some((token, _)) => Redemption::AlreadyUsed(token.clone()),
                                None => Redemption::Unknown,
                            });
                        }
                    }
                }
                Ok(outcomes.into_iter().map(|o| o.unwrap_or(Redemption::Unknown)).collect())
            }

            /// Refresh-token rows by tenant and hash, each with a flag for "not yet answered".
            fn by_key(
                rows: Vec<$row>,
            ) -> StoreResult<std::collections::HashMap<(TenantId, String), (RefreshToken, bool)>> {
                rows.iter()
                    .map(|row| {
                        let token = refresh_from_row(row)?;
                        Ok(((token.tenant_id, token.token_hash.clone()), (token, true)))
                    })
                    .collect()
            }

            /// `(tenant_id = ? AND <column> IN (?, …)) OR …`: the rows of `wanted` (tenant and
            /// key), each tenant's by its primary key.
            fn push_keys_by_tenant<'a>(
                query: &mut QueryBuilder<'a, Db>,
                column: &str,
                wanted: &'a [(TenantId, String)],
            ) {
                let mut tenants: Vec<TenantId> = wanted.iter().map(|(t, _)| *t).collect();
                tenants.sort_unstable();
                tenants.dedup();
                for (i, tenant) in tenants.iter().enumerate() {
                    if i > 0 {
                        query.push(" OR ");
                    }
                    query
                        .push("(tenant_id = ")
                        .push_bind(*tenant)
                        .push(format_args!(" AND {column} IN ("));
                    let mut keys = query.separated(", ");
                    for (_, key) in wanted.iter().filter(|(t, _)| t == tenant) {
                        keys.push_bind(key.as_str());
                    }
                    query.push("))");
                }
            }

            fn ephemeral_from_row(row: &$row) -> StoreResult<Ephemeral> {
                Ok(Ephemeral {
                    value: row.try_get("value")?,
                    version: row.try_get("version")?,
                    expires_at: row.try_get("expires_at")?,
                })
            }

            impl $store {
                /// Runs revoking `statements` in one transaction: `$1` is the time, `$2` the
                /// tenant and `$3` the `key`. Returns how many tokens were revoked.
                async fn revoke(
                    &self,
                    statements: &[&str],
                    tenant: TenantId,
                    when: Timestamp,
                    key: &str,
                ) -> StoreResult<u64> {
                    let mut db = self.tenant_tx(tenant).await?;
                    let mut revoked = 0;
                    for sql in statements {
                        let query = sqlx::query(sql).bind(when).bind(tenant).bind(key);
                        revoked += query.execute(&mut *db).await?.rows_affected();
                    }
                    db.finish().await?;
                    Ok(revoked)
                }
            }

            #[async_trait::async_trait]
            impl OidcArtifactRepo for $store {
                async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO login_flows (tenant_id, id, data, expires_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (tenant_id, id)
                         DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                    )
                    .bind(tenant)
                    .bind(&flow.id)
                    .bind(Json(flow))
                    .bind(flow.expires_at)
                    .execute(&mut *db)
                    .await?;
                    Ok(db.finish().await?)
                }

                async fn get_flow(
                    &self,
                    tenant: TenantId,
                    id: &str,
                ) -> StoreResult<Option<LoginFlow>> {
                    let mut db = self.tenant(tenant).await?;
                    let data: Option<Json<LoginFlow>> = sqlx::query_scalar(
                        "SELECT data FROM login_flows
                         WHERE tenant_id = $1 AND id = $2 AND expires_at > $3",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(Timestamp::now())
                    .fetch_optional(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(data.map(|Json(flow)| flow))
                }

                async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query("DELETE FROM login_flows WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .execute(&mut *db)
                        .await?;
                    Ok(db.finish().await?)
                }

                async fn put_code(
                    &self,
                    tenant: TenantId,
                    code: &AuthorizationCode,
                ) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO authorization_codes (tenant_id, code_hash, data, expires_at)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(tenant)
                    .bind(&code.code_hash)
                    .bind(Json(code))
                    .bind(code.expires_at)
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("authorization code"))?;
                    Ok(db.finish().await?)
                }

                async fn redeem_code(
                    &self,
                    tenant: TenantId,
                    code_hash: &str,
                    when: Timestamp,
                ) -> StoreResult<Redemption> {
                    let mut db = self.hot(tenant).await?;
                    // One UPDATE decides the race: only the caller whose statement flips
                    // redeemed_at wins (on PostgreSQL the row lock makes a concurrent UPDATE
                    // wait, then re-check `redeemed_at IS NULL` and find it set).
                    let won: Option<Json<AuthorizationCode>> = sqlx::query_scalar(
                        "UPDATE authorization_codes SET redeemed_at = $1
                         WHERE tenant_id = $2 AND code_hash = $3 AND redeemed_at IS NULL
                         RETURNING data",
                    )
                    .bind(when)
                    .bind(tenant)
                    .bind(code_hash)
                    .fetch_optional(&mut *db)
                    .await?;
                    let outcome = match won {
                        Some(Json(code)) => Redemption::Redeemed(code),
                        None => {
                            let spent: Option<Json<AuthorizationCode>> = sqlx::query_scalar(
                                "SELECT data FROM authorization_codes
                                 WHERE tenant_id = $1 AND code_hash = $2",
                            )
                            .bind(tenant)
                            .bind(code_hash)
                            .fetch_optional(&mut *db)
                            .await?;
                            match spent {
                                Some(Json(code)) => Redemption::AlreadyUsed(code),
                                None => Redemption::Unknown,
                            }
                        }
                    };
                    db.finish().await?;
                    Ok(outcome)
                }

                async fn record_access_token(
                    &self,
                    tenant: TenantId,
                    t: &AccessTokenRecord,
                ) -> StoreResult<()> {
                    let mut db = self.hot(tenant).await?;
                    insert_access_tokens(&mut db, [(tenant, t)]).await?;
                    Ok(db.finish().await?)
                }

                async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
                    self.write_batch(&[], issued, &[], &[]).await.map(drop)
                }

                async fn access_token(
                    &self,
                    tenant: TenantId,
                    jti: &str,
                ) -> StoreResult<Option<AccessTokenRecord>> {
                    self.read_access_token(tenant, jti).await
                }

                async fn revoke_tokens_of_code(
                    &self,
                    tenant: TenantId,
                    code_hash: &str,
                    when: Timestamp,
                ) -> StoreResult<u64> {
                    let statement = "UPDATE access_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND code_hash = $3 AND revoked_at IS NULL";
                    self.revoke(&[statement], tenant, when, code_hash).await
                }

                async fn revoke_access_token(
                    &self,
                    tenant: TenantId,
                    jti: &str,
                    when: Timestamp,
                ) -> StoreResult<bool> {
                    let statement = "UPDATE access_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND jti = $3 AND revoked_at IS NULL";
                    Ok(self.revoke(&[statement], tenant, when, jti).await? == 1)
                }

                async fn put_refresh_token(
                    &self,
                    tenant: TenantId,
                    t: &RefreshToken,
                ) -> StoreResult<()> {
                    let mut db = self.hot(tenant).await?;
                    insert_refresh_tokens(&mut db, [(tenant, t)]).await?;
                    Ok(db.finish().await?)
                }

                async fn refresh_token(
                    &self,
                    tenant: TenantId,
                    token_hash: &str,
                ) -> StoreResult<Option<RefreshToken>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
                    )
                    .bind(tenant)
                    .bind(token_hash)
                    .fetch_optional(&mut *db)
                    .await?;
                    db.finish().await?;
                    row.map(|r| refresh_from_row(&r)).transpose()
                }

                async fn refresh_tokens(
                    &self,
                    tenant: TenantId,
                    now: Timestamp,
                    after: Option<&str>,
                    limit: u32,
                ) -> StoreResult<Vec<RefreshToken>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM refresh_tokens
                         WHERE tenant_id = $1 AND expires_at > $2 AND token_hash > $3
                         ORDER BY token_hash LIMIT $4",
                    )
                    .bind(tenant)
                    .bind(now)
                    .bind(after.unwrap_or_default())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(refresh_from_row).collect()
                }

                async fn rotate_refresh_token(
                    &self,
                    tenant: TenantId,
                    token_hash: &str,
                    when: Timestamp,
                ) -> StoreResult<Redemption<RefreshToken>> {
                    let mut db = self.hot(tenant).await?;
                    let mut outcome =
                        rotate_refresh_tokens(&mut db, &[(tenant, token_hash.to_owned())], when)
                            .await?;
                    db.finish().await?;
                    Ok(outcome.pop().unwrap_or(Redemption::Unknown))
                }

                async fn revoke_refresh_family(
                    &self,
                    tenant: TenantId,
                    family_id: &str,
                    when: Timestamp,
                ) -> StoreResult<u64> {
                    let statements = [
                        "UPDATE refresh_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND family_id = $3 AND revoked_at IS NULL",
                        "UPDATE access_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND family_id = $3 AND revoked_at IS NULL",
                    ];
                    self.revoke(&statements, tenant, when, family_id).await
                }

                async fn revoke_session_tokens(
                    &self,
                    tenant: TenantId,
                    session_id: &str,
                    when: Timestamp,
                ) -> StoreResult<u64> {
                    let statements = [
                        "UPDATE access_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND revoked_at IS NULL AND family_id IN
                           (SELECT family_id FROM refresh_tokens
                            WHERE tenant_id = $2 AND bound_session_id = $3)",
                        "UPDATE refresh_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND revoked_at IS NULL AND family_id IN
                           (SELECT family_id FROM refresh_tokens
                            WHERE tenant_id = $2 AND bound_session_id = $3)",
                    ];
                    self.revoke(&statements, tenant, when, session_id).await
                }

                async fn revoke_grant(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    client_id: &str,
                    when: Timestamp,
                ) -> StoreResult<u64> {
                    let statements = [
                        "UPDATE access_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND user_id = $4 AND client_id = $3
                           AND revoked_at IS NULL",
                        "UPDATE refresh_tokens SET revoked_at = $1
                         WHERE tenant_id = $2 AND data ->> 'user_id' = CAST($4 AS TEXT)
                           AND data ->> 'client_id' = $3 AND revoked_at IS NULL",
                    ];
                    let mut db = self.tenant_tx(tenant).await?;
                    let mut revoked = 0;
                    for sql in statements {
                        let query = sqlx::query(sql)
                            .bind(when)
                            .bind(tenant)
                            .bind(client_id)
                            .bind(user);
                        revoked += query.execute(&mut *db).await?.rows_affected();
                    }
                    db.finish().await?;
                    Ok(revoked)
                }

                async fn put_ephemeral(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                    value: &str,
                    expires_at: Timestamp,
                ) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "INSERT INTO ephemeral (tenant_id, kind, key, value, version, expires_at)
                         VALUES ($1, $2, $3, $4, 1, $5)
                         ON CONFLICT (tenant_id, kind, key) DO UPDATE
                         SET value = excluded.value, version = 1, expires_at = excluded.expires_at
                         WHERE ephemeral.expires_at <= $6",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(value)
                    .bind(expires_at)
                    .bind(Timestamp::now())
                    .execute(&mut *db)
                    .await?;
                    db.finish().await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::Conflict("record"));
                    }
                    Ok(())
                }

                async fn get_ephemeral(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                ) -> StoreResult<Option<Ephemeral>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM ephemeral
                         WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND expires_at > $4",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(Timestamp::now())
                    .fetch_optional(&mut *db)
                    .await?;
                    db.finish().await?;
                    row.map(|r| ephemeral_from_row(&r)).transpose()
                }

                async fn take_ephemeral(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                ) -> StoreResult<Option<Ephemeral>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "DELETE FROM ephemeral
                         WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND expires_at > $4
                         RETURNING *",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(Timestamp::now())
                    .fetch_optional(&mut *db)
                    .await?;
                    db.finish().await?;
                    row.map(|r| ephemeral_from_row(&r)).transpose()
                }

                async fn swap_ephemeral(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                    version: i64,
                    value: &str,
                ) -> StoreResult<bool> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE ephemeral SET value = $1, version = version + 1
                         WHERE tenant_id = $2 AND kind = $3 AND key = $4 AND version = $5
                           AND expires_at > $6",
                    )
                    .bind(value)
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(version)
                    .bind(Timestamp::now())
                    .execute(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn remove_ephemeral_if(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                    value: &str,
                ) -> StoreResult<bool> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "DELETE FROM ephemeral
                         WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND value = $4",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(value)
                    .execute(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn count_ephemeral(
                    &self,
                    tenant: TenantId,
                    kind: &str,
                    key: &str,
                    expires_at: Timestamp,
                ) -> StoreResult<i64> {
                    let mut db = self.tenant(tenant).await?;
                    let count = sqlx::query_scalar(
                        "INSERT INTO ephemeral (tenant_id, kind, key, value, version, expires_at)
                         VALUES ($1, $2, $3, '', 1, $4)
                         ON CONFLICT (tenant_id, kind, key) DO UPDATE
                         SET version = CASE WHEN ephemeral.expires_at > $5
                                            THEN ephemeral.version + 1 ELSE 1 END,
                             expires_at = excluded.expires_at
                         RETURNING version",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(key)
                    .bind(expires_at)
                    .bind(Timestamp::now())
                    .fetch_one(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(count)
                }

                async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
                    let mut purged = 0;
                    for table in [
                        "login_flows",
                        "authorization_codes",
                        "access_tokens",
                        "refresh_tokens",
                        "ephemeral",
                    ] {
                        purged += self.purge(table, "expires_at", before, limit).await?;
                    }
                    Ok(purged)
                }
            }
        }
    };
}

pub(crate) use artifact_repo;
