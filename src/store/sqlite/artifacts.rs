//! Login flows, authorization codes and access-token records.

use super::SqliteStore;
use crate::domain::{
    AccessTokenRecord, AuthorizationCode, LoginFlow, RefreshToken, TenantId, Timestamp, UserId,
};
use crate::store::decode::parse;
use crate::store::sql::conflict;
use crate::store::{
    from_json, to_json, Ephemeral, Issuance, OidcArtifactRepo, Redemption, StoreResult,
};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};

/// Inserts access-token records in one statement: each statement is a round trip to the
/// connection's worker thread, so a group commit pays one, not one per row.
async fn insert_access_tokens<'c, 'r>(
    db: impl sqlx::SqliteExecutor<'c>,
    rows: impl IntoIterator<Item = (TenantId, &'r AccessTokenRecord)>,
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO access_tokens (tenant_id, jti, client_id, user_id, scopes, code_hash, family_id, issued_at, expires_at, revoked_at) ",
    );
    insert.push_values(rows, |mut row, (tenant, t)| {
        row.push_bind(tenant.to_string())
            .push_bind(&t.jti)
            .push_bind(&t.client_id)
            .push_bind(t.user_id.map(|u| u.to_string()))
            .push_bind(to_json(&t.scopes))
            .push_bind(&t.code_hash)
            .push_bind(&t.family_id)
            .push_bind(t.issued_at.unix())
            .push_bind(t.expires_at.unix())
            .push_bind(t.revoked_at.map(Timestamp::unix));
    });
    insert
        .build()
        .execute(db)
        .await
        .map_err(conflict("access token"))?;
    Ok(())
}

/// Inserts refresh tokens in one statement, as [`insert_access_tokens`].
async fn insert_refresh_tokens<'c, 'r>(
    db: impl sqlx::SqliteExecutor<'c>,
    rows: impl IntoIterator<Item = (TenantId, &'r RefreshToken)>,
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, data, expires_at, rotated_at, revoked_at, bound_session_id) ",
    );
    insert.push_values(rows, |mut row, (tenant, t)| {
        row.push_bind(tenant.to_string())
            .push_bind(&t.token_hash)
            .push_bind(&t.family_id)
            .push_bind(to_json(t))
            .push_bind(t.expires_at.unix())
            .push_bind(t.rotated_at.map(Timestamp::unix))
            .push_bind(t.revoked_at.map(Timestamp::unix))
            .push_bind(t.session_bound.then_some(&t.session_id));
    });
    insert
        .build()
        .execute(db)
        .await
        .map_err(conflict("refresh token"))?;
    Ok(())
}

#[async_trait]
impl OidcArtifactRepo for SqliteStore {
    async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO login_flows (tenant_id, id, data, expires_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant_id, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(tenant.to_string())
        .bind(&flow.id)
        .bind(to_json(flow))
        .bind(flow.expires_at.unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_flow(&self, tenant: TenantId, id: &str) -> StoreResult<Option<LoginFlow>> {
        let data: Option<String> = sqlx::query_scalar(
            "SELECT data FROM login_flows WHERE tenant_id = ? AND id = ? AND expires_at > ?",
        )
        .bind(tenant.to_string())
        .bind(id)
        .bind(Timestamp::now().unix())
        .fetch_optional(&self.pool)
        .await?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_flows WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_code(&self, tenant: TenantId, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query("INSERT INTO authorization_codes (tenant_id, code_hash, data, expires_at) VALUES (?, ?, ?, ?)")
            .bind(tenant.to_string())
            .bind(&code.code_hash)
            .bind(to_json(code))
            .bind(code.expires_at.unix())
            .execute(&self.pool)
            .await
            .map_err(conflict("authorization code"))?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption> {
        // One UPDATE decides the race: only the caller whose statement flips redeemed_at wins.
        let won: Option<String> = sqlx::query_scalar(
            "UPDATE authorization_codes SET redeemed_at = ?
             WHERE tenant_id = ? AND code_hash = ? AND redeemed_at IS NULL RETURNING data",
        )
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(data) = won {
            return Ok(Redemption::Redeemed(from_json(&data)?));
        }
        let spent: Option<String> = sqlx::query_scalar(
            "SELECT data FROM authorization_codes WHERE tenant_id = ? AND code_hash = ?",
        )
        .bind(tenant.to_string())
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match spent {
            Some(data) => Redemption::AlreadyUsed(from_json(&data)?),
            None => Redemption::Unknown,
        })
    }

    async fn record_access_token(
        &self,
        tenant: TenantId,
        t: &AccessTokenRecord,
    ) -> StoreResult<()> {
        insert_access_tokens(&self.writer, [(tenant, t)]).await
    }

    async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
        let access = issued.iter().map(|i| (i.access.tenant_id, &i.access));
        let refresh: Vec<_> = issued
            .iter()
            .filter_map(|i| i.refresh.as_ref())
            .map(|t| (t.tenant_id, t))
            .collect();
        if refresh.is_empty() {
            // One statement is a transaction of its own.
            return insert_access_tokens(&self.writer, access).await;
        }
        let mut tx = self.writer.begin().await?;
        insert_access_tokens(&mut *tx, access).await?;
        insert_refresh_tokens(&mut *tx, refresh).await?;
        Ok(tx.commit().await?)
    }

    async fn access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let row = sqlx::query("SELECT * FROM access_tokens WHERE tenant_id = ? AND jti = ?")
            .bind(tenant.to_string())
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(AccessTokenRecord {
                jti: row.get("jti"),
                tenant_id: parse(row.get("tenant_id"))?,
                client_id: row.get("client_id"),
                user_id: row
                    .get::<Option<String>, _>("user_id")
                    .map(|u| parse(&u))
                    .transpose()?,
                scopes: from_json(row.get("scopes"))?,
                code_hash: row.get("code_hash"),
                family_id: row.get("family_id"),
                issued_at: Timestamp::from_unix(row.get("issued_at")),
                expires_at: Timestamp::from_unix(row.get("expires_at")),
                revoked_at: row
                    .get::<Option<i64>, _>("revoked_at")
                    .map(Timestamp::from_unix),
            })
        })
        .transpose()
    }

    async fn revoke_tokens_of_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE tenant_id = ? AND code_hash = ? AND revoked_at IS NULL",
        )
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE tenant_id = ? AND jti = ? AND revoked_at IS NULL",
        )
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(jti)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_refresh_token(&self, tenant: TenantId, t: &RefreshToken) -> StoreResult<()> {
        insert_refresh_tokens(&self.writer, [(tenant, t)]).await
    }

    async fn refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>> {
        sqlx::query("SELECT * FROM refresh_tokens WHERE tenant_id = ? AND token_hash = ?")
            .bind(tenant.to_string())
            .bind(token_hash)
            .fetch_optional(&self.writer)
            .await?
            .map(|row| refresh_from_row(&row))
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        // One UPDATE decides the race, as for codes.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ?
             WHERE tenant_id = ? AND token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL
             RETURNING *",
        )
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = won {
            return Ok(Redemption::Redeemed(refresh_from_row(&row)?));
        }
        Ok(match self.refresh_token(tenant, token_hash).await? {
            Some(spent) => Redemption::AlreadyUsed(spent),
            None => Redemption::Unknown,
        })
    }

    async fn revoke_refresh_family(
        &self,
        tenant: TenantId,
        family_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let statements = [
            "UPDATE refresh_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND family_id = ?3 AND revoked_at IS NULL",
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND family_id = ?3 AND revoked_at IS NULL",
        ];
        self.revoke(&statements, tenant, at, &[family_id]).await
    }

    async fn revoke_session_tokens(
        &self,
        tenant: TenantId,
        session_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let statements = [
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND revoked_at IS NULL AND family_id IN
               (SELECT family_id FROM refresh_tokens WHERE tenant_id = ?2 AND bound_session_id = ?3)",
            "UPDATE refresh_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND revoked_at IS NULL AND family_id IN
               (SELECT family_id FROM refresh_tokens WHERE tenant_id = ?2 AND bound_session_id = ?3)",
        ];
        self.revoke(&statements, tenant, at, &[session_id]).await
    }

    async fn revoke_grant(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let statements = [
            "UPDATE access_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND user_id = ?3 AND client_id = ?4 AND revoked_at IS NULL",
            "UPDATE refresh_tokens SET revoked_at = ?1
             WHERE tenant_id = ?2 AND json_extract(data, '$.user_id') = ?3
               AND json_extract(data, '$.client_id') = ?4 AND revoked_at IS NULL",
        ];
        self.revoke(&statements, tenant, at, &[&user.to_string(), client_id])
            .await
    }

    async fn put_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        value: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ephemeral (tenant_id, kind, key, value, version, expires_at) VALUES (?, ?, ?, ?, 1, ?)",
        )
        .bind(tenant.to_string())
        .bind(kind)
        .bind(key)
        .bind(value)
        .bind(expires_at.unix())
        .execute(&self.pool)
        .await
        .map_err(conflict("record"))?;
        Ok(())
    }

    async fn get_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let row = sqlx::query(
            "SELECT * FROM ephemeral WHERE tenant_id = ? AND kind = ? AND key = ? AND expires_at > ?",
        )
        .bind(tenant.to_string())
        .bind(kind)
        .bind(key)
        .bind(Timestamp::now().unix())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ephemeral_from_row(&r)))
    }

    async fn take_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let row = sqlx::query(
            "DELETE FROM ephemeral WHERE tenant_id = ? AND kind = ? AND key = ? AND expires_at > ?
             RETURNING *",
        )
        .bind(tenant.to_string())
        .bind(kind)
        .bind(key)
        .bind(Timestamp::now().unix())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ephemeral_from_row(&r)))
    }

    async fn swap_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        version: i64,
        value: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ephemeral SET value = ?, version = version + 1
             WHERE tenant_id = ? AND kind = ? AND key = ? AND version = ? AND expires_at > ?",
        )
        .bind(value)
        .bind(tenant.to_string())
        .bind(kind)
        .bind(key)
        .bind(version)
        .bind(Timestamp::now().unix())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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

/// The stored token, with the authoritative spent and revoked times from their columns.
fn refresh_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<RefreshToken> {
    let mut token: RefreshToken = from_json(row.get("data"))?;
    token.rotated_at = row
        .get::<Option<i64>, _>("rotated_at")
        .map(Timestamp::from_unix);
    token.revoked_at = row
        .get::<Option<i64>, _>("revoked_at")
        .map(Timestamp::from_unix);
    Ok(token)
}

fn ephemeral_from_row(row: &sqlx::sqlite::SqliteRow) -> Ephemeral {
    Ephemeral {
        value: row.get("value"),
        version: row.get("version"),
        expires_at: Timestamp::from_unix(row.get("expires_at")),
    }
}

impl SqliteStore {
    /// Runs revoking `statements` in one transaction: `?1` is the time, `?2` the tenant, and
    /// `keys` follow from `?3`. Returns how many tokens were revoked.
    async fn revoke(
        &self,
        statements: &[&str],
        tenant: TenantId,
        at: Timestamp,
        keys: &[&str],
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut revoked = 0;
        for sql in statements {
            let mut query = sqlx::query(sql).bind(at.unix()).bind(tenant.to_string());
            for key in keys {
                query = query.bind(*key);
            }
            revoked += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(revoked)
    }
}
