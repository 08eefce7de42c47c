//! Tenants, users and clients.

use super::{at, timestamp, PostgresStore};
use crate::domain::{
    Client, Tenant, TenantId, TenantSettings, TenantSlug, Timestamp, User, UserId,
};
use crate::store::decode;
use crate::store::sql::{conflict, unavailable};
use crate::store::{ClientRepo, StoreError, StoreResult, TenantRepo, UserQuery, UserRepo};
use async_trait::async_trait;
use sqlx::{postgres::PgRow, types::Json, Row};
use std::sync::LazyLock;
use time::OffsetDateTime;
use uuid::Uuid;

fn tenant_from_row(row: &PgRow) -> StoreResult<Tenant> {
    let Json(settings): Json<TenantSettings> = row.get("settings");
    Ok(Tenant {
        id: row.get::<Uuid, _>("id").into(),
        slug: decode::slug(row.get("slug"))?,
        name: row.get("name"),
        status: decode::tenant_status(row.get("status"))?,
        settings,
        created_at: timestamp(row.get("created_at")),
    })
}

#[async_trait]
impl TenantRepo for PostgresStore {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, status, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(tenant.id.as_uuid())
        .bind(tenant.slug.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(Json(&tenant.settings))
        .bind(at(tenant.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict("tenant"))?;
        Ok(())
    }

    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        sqlx::query("SELECT * FROM tenants WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| tenant_from_row(&r))
            .transpose()
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query("SELECT * FROM tenants WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| tenant_from_row(&r))
            .transpose()
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE tenants SET name = $1, status = $2, settings = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(Json(&tenant.settings))
        .bind(at(Timestamp::now()))
        .bind(tenant.id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, after: Option<TenantId>, limit: u32) -> StoreResult<Vec<Tenant>> {
        let rows = sqlx::query(
            "SELECT * FROM tenants WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        // Scoped to the tenant itself, so row-level security admits every row of it.
        let mut tx = self.scoped(id).await?;
        // Tables without a foreign key to `tenants`; the rest go with it by cascade.
        for table in [
            "audit_events",
            "login_flows",
            "authorization_codes",
            "access_tokens",
            "refresh_tokens",
            "ephemeral",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.get::<Uuid, _>("id").into(),
        tenant_id: row.get::<Uuid, _>("tenant_id").into(),
        email: decode::email(row.get("email"))?,
        name: row.get("name"),
        password_hash: row.get("password_hash"),
        email_verified: row.get("email_verified"),
        blocked: row.get("blocked"),
        deleted_at: row
            .get::<Option<OffsetDateTime>, _>("deleted_at")
            .map(timestamp),
        last_login_at: row
            .get::<Option<OffsetDateTime>, _>("last_login_at")
            .map(timestamp),
        login_count: row.get("login_count"),
        created_at: timestamp(row.get("created_at")),
        updated_at: timestamp(row.get("updated_at")),
    })
}

#[async_trait]
impl UserRepo for PostgresStore {
    async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()> {
        debug_assert_eq!(tenant, user.tenant_id);
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO users (tenant_id, id, email, name, password_hash, email_verified, blocked,
                                deleted_at, last_login_at, login_count, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(tenant.as_uuid())
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.email_verified)
        .bind(user.blocked)
        .bind(user.deleted_at.map(at))
        .bind(user.last_login_at.map(at))
        .bind(user.login_count)
        .bind(at(user.created_at))
        .bind(at(user.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict("a user with this email"))?;
        for role in roles {
            sqlx::query(
                "INSERT INTO role_assignments (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant.as_uuid())
            .bind(user.id.as_uuid())
            .bind(role)
            .bind(at(user.created_at))
            .execute(&mut *tx)
            .await
            .map_err(conflict("role assignment"))?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND email = $2")
            .bind(tenant.as_uuid())
            .bind(email)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn record_login(&self, tenant: TenantId, id: UserId, when: Timestamp) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE users SET last_login_at = $1, login_count = login_count + 1, updated_at = $1
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(at(when))
        .bind(tenant.as_uuid())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE users SET email = $1, name = $2, password_hash = $3, email_verified = $4,
                              blocked = $5, deleted_at = $6, updated_at = $7
             WHERE tenant_id = $8 AND id = $9",
        )
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.email_verified)
        .bind(user.blocked)
        .bind(user.deleted_at.map(at))
        .bind(at(user.updated_at))
        .bind(tenant.as_uuid())
        .bind(user.id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(conflict("a user with this email"))?;
        tx.commit().await.map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>> {
        let mut tx = self.scoped(tenant).await?;
        let roles = sqlx::query_scalar(
            "SELECT role FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 ORDER BY role",
        )
        .bind(tenant.as_uuid())
        .bind(id.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(roles)
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT * FROM users WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
             ORDER BY id LIMIT $3",
        )
        .bind(tenant.as_uuid())
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &UserQuery,
        before: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query(
            "SELECT u.* FROM users u WHERE u.tenant_id = $1
               AND ($2::uuid IS NULL OR u.id < $2)
               AND ($3::text IS NULL OR strpos(lower(u.email), lower($3)) > 0
                    OR strpos(lower(coalesce(u.name, '')), lower($3)) > 0)
               AND ($4::boolean IS NULL OR u.blocked = $4)
               AND ($5::boolean IS NULL OR (u.deleted_at IS NOT NULL) = $5)
               AND ($6::boolean IS NULL OR EXISTS (
                    SELECT 1 FROM factors f WHERE f.tenant_id = u.tenant_id AND f.user_id = u.id
                      AND f.kind <> 'backup_codes') = $6)
               AND ($7::boolean IS NULL OR u.email_verified = $7)
               AND ($8::text IS NULL
                    OR EXISTS (SELECT 1 FROM role_assignments r
                               WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = $8)
                    OR EXISTS (SELECT 1 FROM team_members m JOIN team_roles t
                                 ON t.tenant_id = m.tenant_id AND t.team_id = m.team_id
                               WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id AND t.role = $8))
               AND ($9::uuid IS NULL OR EXISTS (
                    SELECT 1 FROM team_members m
                    WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id AND m.team_id = $9))
             ORDER BY u.id DESC LIMIT $10",
        )
        .bind(tenant.as_uuid())
        .bind(before.map(|b| b.as_uuid()))
        .bind(&query.text)
        .bind(query.blocked)
        .bind(query.deleted)
        .bind(query.mfa)
        .bind(query.email_verified)
        .bind(&query.role)
        .bind(query.team)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        // Sign-ins, consents, factors, roles and memberships go by cascade; tokens name the
        // user without a foreign key.
        for sql in [
            "DELETE FROM refresh_tokens WHERE tenant_id = $1 AND data->>'user_id' = $2::text",
            "DELETE FROM access_tokens WHERE tenant_id = $1 AND user_id = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}

fn client_from_row(row: &PgRow) -> StoreResult<Client> {
    let Json(redirect_uris): Json<Vec<String>> = row.get("redirect_uris");
    let Json(grant_types): Json<Vec<String>> = row.get("grant_types");
    let Json(scopes): Json<Vec<String>> = row.get("scopes");
    let Json(resources): Json<Vec<String>> = row.get("resources");
    let Json(post_logout): Json<Vec<String>> = row.get("post_logout_redirect_uris");
    Ok(Client {
        key: row.get::<Uuid, _>("id").into(),
        tenant_id: row.get::<Uuid, _>("tenant_id").into(),
        client_id: row.get("client_id"),
        name: row.get("name"),
        client_type: decode::client_type(row.get("client_type"))?,
        secret_hash: row.get("secret_hash"),
        redirect_uris: decode::redirect_uris(&redirect_uris)?,
        grant_types: decode::grant_types(&grant_types)?,
        scopes,
        require_pkce: row.get("require_pkce"),
        require_consent: row.get("require_consent"),
        auth_method: decode::auth_method(row.get("auth_method"))?,
        access_token_ttl_secs: row.get("access_token_ttl_secs"),
        id_token_ttl_secs: row.get("id_token_ttl_secs"),
        refresh_token_ttl_secs: row.get("refresh_token_ttl_secs"),
        refresh_family_ttl_secs: row.get("refresh_family_ttl_secs"),
        resources,
        id_token_alg: decode::signing_alg(row.get("id_token_signed_response_alg"))?,
        require_par: row.get("require_pushed_authorization_requests"),
        post_logout_redirect_uris: decode::redirect_uris(&post_logout)?,
        backchannel_logout_uri: row.get("backchannel_logout_uri"),
        jwks: row
            .get::<Option<Json<serde_json::Value>>, _>("jwks")
            .map(|Json(jwks)| jwks.to_string()),
        previous_secret_hash: row.get("previous_secret_hash"),
        previous_secret_expires_at: row
            .get::<Option<OffsetDateTime>, _>("previous_secret_expires_at")
            .map(timestamp),
        disabled: row.get("disabled"),
        logo_uri: row.get("logo_uri"),
        created_by: row
            .get::<Option<uuid::Uuid>, _>("created_by")
            .map(UserId::from),
        created_at: timestamp(row.get("created_at")),
    })
}

/// The settings columns of `clients`, in the order [`bind_settings`] binds them.
const CLIENT_SETTINGS: [&str; 25] = [
    "client_id",
    "name",
    "client_type",
    "secret_hash",
    "redirect_uris",
    "grant_types",
    "scopes",
    "require_pkce",
    "require_consent",
    "auth_method",
    "access_token_ttl_secs",
    "id_token_ttl_secs",
    "refresh_token_ttl_secs",
    "refresh_family_ttl_secs",
    "resources",
    "id_token_signed_response_alg",
    "require_pushed_authorization_requests",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "jwks",
    "previous_secret_hash",
    "previous_secret_expires_at",
    "disabled",
    "logo_uri",
    "created_by",
];

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_settings<'q>(query: PgQuery<'q>, c: &'q Client) -> StoreResult<PgQuery<'q>> {
    let jwks: Option<serde_json::Value> =
        c.jwks
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("client JWKS: {e}")))?;
    Ok(query
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.client_type.as_str())
        .bind(&c.secret_hash)
        .bind(Json(&c.redirect_uris))
        .bind(Json(&c.grant_types))
        .bind(Json(&c.scopes))
        .bind(c.require_pkce)
        .bind(c.require_consent)
        .bind(c.auth_method.as_str())
        .bind(c.access_token_ttl_secs)
        .bind(c.id_token_ttl_secs)
        .bind(c.refresh_token_ttl_secs)
        .bind(c.refresh_family_ttl_secs)
        .bind(Json(&c.resources))
        .bind(c.id_token_alg.as_str())
        .bind(c.require_par)
        .bind(Json(&c.post_logout_redirect_uris))
        .bind(&c.backchannel_logout_uri)
        .bind(jwks.map(Json))
        .bind(&c.previous_secret_hash)
        .bind(c.previous_secret_expires_at.map(at))
        .bind(c.disabled)
        .bind(&c.logo_uri)
        .bind(c.created_by.map(|u| u.as_uuid())))
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> Vec<String> {
    (first..first + count).map(|n| format!("${n}")).collect()
}

static INSERT_CLIENT: LazyLock<String> = LazyLock::new(|| {
    let n = CLIENT_SETTINGS.len();
    format!(
        "INSERT INTO clients ({}, tenant_id, id, created_at, updated_at) VALUES ({}, {})",
        CLIENT_SETTINGS.join(", "),
        placeholders(1, n).join(", "),
        placeholders(n + 1, 4).join(", ")
    )
});

static UPDATE_CLIENT: LazyLock<String> = LazyLock::new(|| {
    let n = CLIENT_SETTINGS.len();
    let assignments: Vec<String> = CLIENT_SETTINGS
        .iter()
        .zip(placeholders(1, n))
        .map(|(column, p)| format!("{column} = {p}"))
        .collect();
    format!(
        "UPDATE clients SET {}, updated_at = ${} WHERE tenant_id = ${} AND id = ${}",
        assignments.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
});

#[async_trait]
impl ClientRepo for PostgresStore {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        debug_assert_eq!(tenant, client.tenant_id);
        let mut tx = self.scoped(tenant).await?;
        bind_settings(sqlx::query(&INSERT_CLIENT), client)?
            .bind(tenant.as_uuid())
            .bind(client.key.as_uuid())
            .bind(at(client.created_at))
            .bind(at(client.created_at))
            .execute(&mut *tx)
            .await
            .map_err(conflict("a client with this client id"))?;
        tx.commit().await.map_err(unavailable)
    }

    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query("SELECT * FROM clients WHERE tenant_id = $1 AND client_id = $2")
            .bind(tenant.as_uuid())
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        let done = bind_settings(sqlx::query(&UPDATE_CLIENT), client)?
            .bind(at(Timestamp::now()))
            .bind(tenant.as_uuid())
            .bind(client.key.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(conflict("a client with this client id"))?;
        tx.commit().await.map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query("SELECT * FROM clients WHERE tenant_id = $1 ORDER BY client_id")
            .bind(tenant.as_uuid())
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND client_id = $2")
            .bind(tenant.as_uuid())
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}
