//! Login flows, authorization codes and access-token records.

use super::{at, by_tenant, timestamp, PostgresStore, TenantTx};
use crate::domain::{
    AccessTokenRecord, AuthorizationCode, LoginFlow, RefreshToken, TenantId, Timestamp, UserId,
};
use crate::store::sql::conflict;
use crate::store::{Ephemeral, Issuance, OidcArtifactRepo, Redemption, StoreResult};
use async_trait::async_trait;
use sqlx::{types::Json, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

/// Inserts access-token records of `tenant` in one statement (one round trip).
async fn insert_access_tokens(
    tx: &mut TenantTx,
    tenant: TenantId,
    rows: &[&AccessTokenRecord],
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Postgres>::new(
        "INSERT INTO access_tokens (tenant_id, jti, client_id, user_id, scopes, code_hash, family_id, issued_at, expires_at, revoked_at) ",
    );
    insert.push_values(rows, |mut row, t| {
        row.push_bind(tenant.as_uuid())
            .push_bind(&t.jti)
            .push_bind(&t.client_id)
            .push_bind(t.user_id.map(|u| u.as_uuid()))
            .push_bind(Json(&t.scopes))
            .push_bind(&t.code_hash)
            .push_bind(&t.family_id)
            .push_bind(at(t.issued_at))
            .push_bind(at(t.expires_at))
            .push_bind(t.revoked_at.map(at));
    });
    insert
        .build()
        .execute(&mut **tx)
        .await
        .map_err(conflict("access token"))?;
    Ok(())
}

/// Inserts refresh tokens of `tenant` in one statement (one round trip).
async fn insert_refresh_tokens(
    tx: &mut TenantTx,
    tenant: TenantId,
    rows: &[&RefreshToken],
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Postgres>::new(
        "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, data, expires_at, rotated_at, revoked_at, bound_session_id) ",
    );
    insert.push_values(rows, |mut row, t| {
        row.push_bind(tenant.as_uuid())
            .push_bind(&t.token_hash)
            .push_bind(&t.family_id)
            .push_bind(Json(*t))
            .push_bind(at(t.expires_at))
            .push_bind(t.rotated_at.map(at))
            .push_bind(t.revoked_at.map(at))
            .push_bind(t.session_bound.then_some(&t.session_id));
    });
    insert
        .build()
        .execute(&mut **tx)
        .await
        .map_err(conflict("refresh token"))?;
    Ok(())
}

#[async_trait]
impl OidcArtifactRepo for PostgresStore {
    async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()> {
        let mut tx = self.tenant(tenant).await?;
        sqlx::query(
            "INSERT INTO login_flows (tenant_id, id, data, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(tenant.as_uuid())
        .bind(&flow.id)
        .bind(Json(flow))
        .bind(at(flow.expires_at))
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    async fn get_flow(&self, tenant: TenantId, id: &str) -> StoreResult<Option<LoginFlow>> {
        let mut tx = self.tenant(tenant).await?;
        let data: Option<Json<LoginFlow>> = sqlx::query_scalar(
            "SELECT data FROM login_flows WHERE tenant_id = $1 AND id = $2 AND expires_at > $3",
        )
        .bind(tenant.as_uuid())
        .bind(id)
        .bind(at(Timestamp::now()))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(data.map(|Json(flow)| flow))
    }

    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
        let mut tx = self.tenant(tenant).await?;
        sqlx::query("DELETE FROM login_flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn put_code(&self, tenant: TenantId, code: &AuthorizationCode) -> StoreResult<()> {
        let mut tx = self.tenant(tenant).await?;
        sqlx::query(
            "INSERT INTO authorization_codes (tenant_id, code_hash, data, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.as_uuid())
        .bind(&code.code_hash)
        .bind(Json(code))
        .bind(at(code.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("authorization code"))?;
        Ok(tx.commit().await?)
    }

    async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        when: Timestamp,
    ) -> StoreResult<Redemption> {
        let mut tx = self.tenant(tenant).await?;
        // One UPDATE decides the race: the row lock makes a concurrent UPDATE wait, then
        // re-check `redeemed_at IS NULL` and find it set, so only one caller wins.
        let won: Option<Json<AuthorizationCode>> = sqlx::query_scalar(
            "UPDATE authorization_codes SET redeemed_at = $1
             WHERE tenant_id = $2 AND code_hash = $3 AND redeemed_at IS NULL RETURNING data",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match won {
            Some(Json(code)) => Redemption::Redeemed(code),
            None => {
                let spent: Option<Json<AuthorizationCode>> = sqlx::query_scalar(
                    "SELECT data FROM authorization_codes WHERE tenant_id = $1 AND code_hash = $2",
                )
                .bind(tenant.as_uuid())
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await?;
                match spent {
                    Some(Json(code)) => Redemption::AlreadyUsed(code),
                    None => Redemption::Unknown,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn record_access_token(
        &self,
        tenant: TenantId,
        t: &AccessTokenRecord,
    ) -> StoreResult<()> {
        let mut tx = self.tenant(tenant).await?;
        insert_access_tokens(&mut tx, tenant, &[t]).await?;
        Ok(tx.commit().await?)
    }

    async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
        let mut tx = self.batch().await?;
        for (tenant, group) in by_tenant(issued, |i| i.access.tenant_id) {
            tx.rescope(tenant).await?;
            let access: Vec<_> = group.iter().map(|i| &i.access).collect();
            insert_access_tokens(&mut tx, tenant, &access).await?;
            let refresh: Vec<_> = group.iter().filter_map(|i| i.refresh.as_ref()).collect();
            if !refresh.is_empty() {
                insert_refresh_tokens(&mut tx, tenant, &refresh).await?;
            }
        }
        Ok(tx.commit().await?)
    }

    async fn access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let mut tx = self.tenant(tenant).await?;
        let row = sqlx::query("SELECT * FROM access_tokens WHERE tenant_id = $1 AND jti = $2")
            .bind(tenant.as_uuid())
            .bind(jti)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(|row| {
            let Json(scopes): Json<Vec<String>> = row.get("scopes");
            AccessTokenRecord {
                jti: row.get("jti"),
                tenant_id: row.get::<Uuid, _>("tenant_id").into(),
                client_id: row.get("client_id"),
                user_id: row.get::<Option<Uuid>, _>("user_id").map(Into::into),
                scopes,
                code_hash: row.get("code_hash"),
                family_id: row.get("family_id"),
                issued_at: timestamp(row.get("issued_at")),
                expires_at: timestamp(row.get("expires_at")),
                revoked_at: row
                    .get::<Option<OffsetDateTime>, _>("revoked_at")
                    .map(timestamp),
            }
        }))
    }

    async fn revoke_tokens_of_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        when: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.tenant(tenant).await?;
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1
             WHERE tenant_id = $2 AND code_hash = $3 AND revoked_at IS NULL",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn revoke_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
        when: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.tenant(tenant).await?;
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1
             WHERE tenant_id = $2 AND jti = $3 AND revoked_at IS NULL",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(jti)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_refresh_token(&self, tenant: TenantId, t: &RefreshToken) -> StoreResult<()> {
        let mut tx = self.tenant(tenant).await?;
        insert_refresh_tokens(&mut tx, tenant, &[t]).await?;
        Ok(tx.commit().await?)
    }

    async fn refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>> {
        let mut tx = self.tenant(tenant).await?;
        let row =
            sqlx::query("SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2")
                .bind(tenant.as_uuid())
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(row.map(|r| refresh_from_row(&r)))
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        when: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        let mut tx = self.tenant(tenant).await?;
        // One UPDATE decides the race, as for codes.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $1
             WHERE tenant_id = $2 AND token_hash = $3 AND rotated_at IS NULL AND revoked_at IS NULL
             RETURNING *",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match won {
            Some(row) => Redemption::Redeemed(refresh_from_row(&row)),
            None => {
                let spent = sqlx::query(
                    "SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                match spent {
                    Some(row) => Redemption::AlreadyUsed(refresh_from_row(&row)),
                    None => Redemption::Unknown,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
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
        self.revoke(&statements, tenant, when, &[family_id]).await
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
               (SELECT family_id FROM refresh_tokens WHERE tenant_id = $2 AND bound_session_id = $3)",
            "UPDATE refresh_tokens SET revoked_at = $1
             WHERE tenant_id = $2 AND revoked_at IS NULL AND family_id IN
               (SELECT family_id FROM refresh_tokens WHERE tenant_id = $2 AND bound_session_id = $3)",
        ];
        self.revoke(&statements, tenant, when, &[session_id]).await
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
             WHERE tenant_id = $2 AND user_id = $3::uuid AND client_id = $4 AND revoked_at IS NULL",
            "UPDATE refresh_tokens SET revoked_at = $1
             WHERE tenant_id = $2 AND data->>'user_id' = $3
               AND data->>'client_id' = $4 AND revoked_at IS NULL",
        ];
        self.revoke(&statements, tenant, when, &[&user.to_string(), client_id])
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
        let mut tx = self.tenant(tenant).await?;
        sqlx::query(
            "INSERT INTO ephemeral (tenant_id, kind, key, value, version, expires_at)
             VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(tenant.as_uuid())
        .bind(kind)
        .bind(key)
        .bind(value)
        .bind(at(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("record"))?;
        Ok(tx.commit().await?)
    }

    async fn get_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let mut tx = self.tenant(tenant).await?;
        let row = sqlx::query(
            "SELECT * FROM ephemeral
             WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND expires_at > $4",
        )
        .bind(tenant.as_uuid())
        .bind(kind)
        .bind(key)
        .bind(at(Timestamp::now()))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(|r| ephemeral_from_row(&r)))
    }

    async fn take_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        let mut tx = self.tenant(tenant).await?;
        let row = sqlx::query(
            "DELETE FROM ephemeral
             WHERE tenant_id = $1 AND kind = $2 AND key = $3 AND expires_at > $4 RETURNING *",
        )
        .bind(tenant.as_uuid())
        .bind(kind)
        .bind(key)
        .bind(at(Timestamp::now()))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
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
        let mut tx = self.tenant(tenant).await?;
        let done = sqlx::query(
            "UPDATE ephemeral SET value = $1, version = version + 1
             WHERE tenant_id = $2 AND kind = $3 AND key = $4 AND version = $5 AND expires_at > $6",
        )
        .bind(value)
        .bind(tenant.as_uuid())
        .bind(kind)
        .bind(key)
        .bind(version)
        .bind(at(Timestamp::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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
fn refresh_from_row(row: &sqlx::postgres::PgRow) -> RefreshToken {
    let Json(mut token): Json<RefreshToken> = row.get("data");
    token.rotated_at = row
        .get::<Option<OffsetDateTime>, _>("rotated_at")
        .map(timestamp);
    token.revoked_at = row
        .get::<Option<OffsetDateTime>, _>("revoked_at")
        .map(timestamp);
    token
}

fn ephemeral_from_row(row: &sqlx::postgres::PgRow) -> Ephemeral {
    Ephemeral {
        value: row.get("value"),
        version: row.get("version"),
        expires_at: timestamp(row.get("expires_at")),
    }
}

impl PostgresStore {
    /// Runs revoking `statements` in one transaction: `$1` is the time, `$2` the tenant, and
    /// `keys` (text) follow from `$3`. Returns how many tokens were revoked.
    async fn revoke(
        &self,
        statements: &[&str],
        tenant: TenantId,
        when: Timestamp,
        keys: &[&str],
    ) -> StoreResult<u64> {
        let mut tx = self.tenant(tenant).await?;
        let mut revoked = 0;
        for sql in statements {
            let mut query = sqlx::query(sql).bind(at(when)).bind(tenant.as_uuid());
            for key in keys {
                query = query.bind(*key);
            }
            revoked += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(revoked)
    }
}
