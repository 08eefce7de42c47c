//! Tenants, users and clients.

use super::SqliteStore;
use crate::domain::{Client, Tenant, TenantId, TenantSlug, Timestamp, User, UserId};
use crate::store::decode::{self, parse};
use crate::store::sql::{conflict, unavailable};
use crate::store::{
    from_json, to_json, ClientRepo, StoreError, StoreResult, TenantRepo, UserQuery, UserRepo,
};
use async_trait::async_trait;
use sqlx::{sqlite::SqliteRow, Row};
use std::sync::LazyLock;

fn tenant_from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: parse(row.get("id"))?,
        slug: decode::slug(row.get("slug"))?,
        name: row.get("name"),
        status: decode::tenant_status(row.get("status"))?,
        settings: from_json(row.get("settings"))?,
        created_at: Timestamp::from_unix(row.get("created_at")),
    })
}

#[async_trait]
impl TenantRepo for SqliteStore {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, status, settings, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.id.to_string())
        .bind(tenant.slug.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(to_json(&tenant.settings))
        .bind(tenant.created_at.unix())
        .bind(tenant.created_at.unix())
        .execute(&self.pool)
        .await
        .map_err(conflict("tenant"))?;
        Ok(())
    }

    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        sqlx::query("SELECT * FROM tenants WHERE slug = ?")
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| tenant_from_row(&r))
            .transpose()
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query("SELECT * FROM tenants WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| tenant_from_row(&r))
            .transpose()
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE tenants SET name = ?, status = ?, settings = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(to_json(&tenant.settings))
        .bind(Timestamp::now().unix())
        .bind(tenant.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, after: Option<TenantId>, limit: u32) -> StoreResult<Vec<Tenant>> {
        let after = after.map(|a| a.to_string());
        let rows =
            sqlx::query("SELECT * FROM tenants WHERE (? IS NULL OR id > ?) ORDER BY id LIMIT ?")
                .bind(&after)
                .bind(&after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Tables without a foreign key to `tenants`; the rest go with it by cascade.
        for table in [
            "audit_events",
            "login_flows",
            "authorization_codes",
            "access_tokens",
            "refresh_tokens",
            "ephemeral",
            "signing_keys",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM tenants WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: parse(row.get("id"))?,
        tenant_id: parse(row.get("tenant_id"))?,
        email: decode::email(row.get("email"))?,
        name: row.get("name"),
        password_hash: row.get("password_hash"),
        email_verified: row.get("email_verified"),
        blocked: row.get("blocked"),
        deleted_at: row
            .get::<Option<i64>, _>("deleted_at")
            .map(Timestamp::from_unix),
        last_login_at: row
            .get::<Option<i64>, _>("last_login_at")
            .map(Timestamp::from_unix),
        login_count: row.get("login_count"),
        created_at: Timestamp::from_unix(row.get("created_at")),
        updated_at: Timestamp::from_unix(row.get("updated_at")),
    })
}

#[async_trait]
impl UserRepo for SqliteStore {
    async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()> {
        debug_assert_eq!(tenant, user.tenant_id);
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO users (tenant_id, id, email, name, password_hash, email_verified, blocked,
                                deleted_at, last_login_at, login_count, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.to_string())
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.email_verified)
        .bind(user.blocked)
        .bind(user.deleted_at.map(Timestamp::unix))
        .bind(user.last_login_at.map(Timestamp::unix))
        .bind(user.login_count)
        .bind(user.created_at.unix())
        .bind(user.updated_at.unix())
        .execute(&mut *tx)
        .await
        .map_err(conflict("a user with this email"))?;
        for role in roles {
            sqlx::query("INSERT INTO role_assignments (tenant_id, user_id, role, created_at) VALUES (?, ?, ?, ?)")
                .bind(tenant.to_string())
                .bind(user.id.to_string())
                .bind(role)
                .bind(user.created_at.unix())
                .execute(&mut *tx)
                .await
                .map_err(conflict("role assignment"))?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE tenant_id = ? AND email = ?")
            .bind(tenant.to_string())
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    async fn record_login(&self, tenant: TenantId, id: UserId, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET last_login_at = ?, login_count = login_count + 1, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(at.unix())
        .bind(at.unix())
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET email = ?, name = ?, password_hash = ?, email_verified = ?,
                              blocked = ?, deleted_at = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.email_verified)
        .bind(user.blocked)
        .bind(user.deleted_at.map(Timestamp::unix))
        .bind(user.updated_at.unix())
        .bind(tenant.to_string())
        .bind(user.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(conflict("a user with this email"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT role FROM role_assignments WHERE tenant_id = ? AND user_id = ? ORDER BY role",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        // Ids are UUIDv7 in their canonical text form, so text order is creation order.
        let rows = sqlx::query(
            "SELECT * FROM users WHERE tenant_id = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(after.map(|a| a.to_string()))
        .bind(after.map(|a| a.to_string()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &UserQuery,
        before: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.* FROM users u WHERE u.tenant_id = ?1
               AND (?2 IS NULL OR u.id < ?2)
               AND (?3 IS NULL OR instr(lower(u.email), ?3) > 0
                    OR instr(lower(coalesce(u.name, '')), ?3) > 0)
               AND (?4 IS NULL OR u.blocked = ?4)
               AND (?5 IS NULL OR (u.deleted_at IS NOT NULL) = ?5)
               AND (?6 IS NULL OR (u.id IN (
                    SELECT f.user_id FROM factors f WHERE f.tenant_id = ?1
                      AND f.kind <> 'backup_codes')) = ?6)
               AND (?7 IS NULL OR u.email_verified = ?7)
               AND (?8 IS NULL
                    OR u.id IN (SELECT r.user_id FROM role_assignments r
                                WHERE r.tenant_id = ?1 AND r.role = ?8)
                    OR u.id IN (SELECT m.user_id FROM team_members m JOIN team_roles t
                                  ON t.tenant_id = m.tenant_id AND t.team_id = m.team_id
                                WHERE m.tenant_id = ?1 AND t.role = ?8))
               AND (?9 IS NULL OR u.id IN (
                    SELECT m.user_id FROM team_members m WHERE m.tenant_id = ?1 AND m.team_id = ?9))
             ORDER BY u.id DESC LIMIT ?10",
        )
        .bind(tenant.to_string())
        .bind(before.map(|b| b.to_string()))
        .bind(query.text.as_ref().map(|t| t.to_lowercase()))
        .bind(query.blocked)
        .bind(query.deleted)
        .bind(query.mfa)
        .bind(query.email_verified)
        .bind(&query.role)
        .bind(query.team.map(|t| t.to_string()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Sign-ins, consents, factors, roles and memberships go by cascade; tokens name the
        // user without a foreign key.
        for sql in [
            "DELETE FROM refresh_tokens WHERE tenant_id = ? AND json_extract(data, '$.user_id') = ?",
            "DELETE FROM access_tokens WHERE tenant_id = ? AND user_id = ?",
        ] {
            sqlx::query(sql)
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}

fn client_from_row(row: &SqliteRow) -> StoreResult<Client> {
    let redirect_uris: Vec<String> = from_json(row.get("redirect_uris"))?;
    let grant_types: Vec<String> = from_json(row.get("grant_types"))?;
    let post_logout: Vec<String> = from_json(row.get("post_logout_redirect_uris"))?;
    Ok(Client {
        key: parse(row.get("id"))?,
        tenant_id: parse(row.get("tenant_id"))?,
        client_id: row.get("client_id"),
        name: row.get("name"),
        client_type: decode::client_type(row.get("client_type"))?,
        secret_hash: row.get("secret_hash"),
        redirect_uris: decode::redirect_uris(&redirect_uris)?,
        grant_types: decode::grant_types(&grant_types)?,
        scopes: from_json(row.get("scopes"))?,
        require_pkce: row.get("require_pkce"),
        require_consent: row.get("require_consent"),
        auth_method: decode::auth_method(row.get("auth_method"))?,
        access_token_ttl_secs: row.get("access_token_ttl_secs"),
        id_token_ttl_secs: row.get("id_token_ttl_secs"),
        refresh_token_ttl_secs: row.get("refresh_token_ttl_secs"),
        refresh_family_ttl_secs: row.get("refresh_family_ttl_secs"),
        resources: from_json(row.get("resources"))?,
        id_token_alg: decode::signing_alg(row.get("id_token_signed_response_alg"))?,
        require_par: row.get("require_pushed_authorization_requests"),
        post_logout_redirect_uris: decode::redirect_uris(&post_logout)?,
        backchannel_logout_uri: row.get("backchannel_logout_uri"),
        jwks: row.get("jwks"),
        previous_secret_hash: row.get("previous_secret_hash"),
        previous_secret_expires_at: row
            .get::<Option<i64>, _>("previous_secret_expires_at")
            .map(Timestamp::from_unix),
        disabled: row.get("disabled"),
        logo_uri: row.get("logo_uri"),
        created_by: row
            .get::<Option<String>, _>("created_by")
            .map(|id| parse(&id))
            .transpose()?,
        created_at: Timestamp::from_unix(row.get("created_at")),
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

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_settings<'q>(query: SqliteQuery<'q>, c: &'q Client) -> SqliteQuery<'q> {
    query
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.client_type.as_str())
        .bind(&c.secret_hash)
        .bind(to_json(&c.redirect_uris))
        .bind(to_json(&c.grant_types))
        .bind(to_json(&c.scopes))
        .bind(c.require_pkce)
        .bind(c.require_consent)
        .bind(c.auth_method.as_str())
        .bind(c.access_token_ttl_secs)
        .bind(c.id_token_ttl_secs)
        .bind(c.refresh_token_ttl_secs)
        .bind(c.refresh_family_ttl_secs)
        .bind(to_json(&c.resources))
        .bind(c.id_token_alg.as_str())
        .bind(c.require_par)
        .bind(to_json(&c.post_logout_redirect_uris))
        .bind(&c.backchannel_logout_uri)
        .bind(&c.jwks)
        .bind(&c.previous_secret_hash)
        .bind(c.previous_secret_expires_at.map(Timestamp::unix))
        .bind(c.disabled)
        .bind(&c.logo_uri)
        .bind(c.created_by.map(|u| u.to_string()))
}

static INSERT_CLIENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO clients ({}, tenant_id, id, created_at, updated_at) VALUES ({}, ?, ?, ?, ?)",
        CLIENT_SETTINGS.join(", "),
        ["?"; CLIENT_SETTINGS.len()].join(", ")
    )
});

static UPDATE_CLIENT: LazyLock<String> = LazyLock::new(|| {
    let assignments: Vec<String> = CLIENT_SETTINGS.iter().map(|c| format!("{c} = ?")).collect();
    format!(
        "UPDATE clients SET {}, updated_at = ? WHERE tenant_id = ? AND id = ?",
        assignments.join(", ")
    )
});

#[async_trait]
impl ClientRepo for SqliteStore {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        debug_assert_eq!(tenant, client.tenant_id);
        bind_settings(sqlx::query(&INSERT_CLIENT), client)
            .bind(tenant.to_string())
            .bind(client.key.to_string())
            .bind(client.created_at.unix())
            .bind(client.created_at.unix())
            .execute(&self.pool)
            .await
            .map_err(conflict("a client with this client id"))?;
        Ok(())
    }

    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE tenant_id = ? AND client_id = ?")
            .bind(tenant.to_string())
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| client_from_row(&r))
            .transpose()
    }

    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        let done = bind_settings(sqlx::query(&UPDATE_CLIENT), client)
            .bind(Timestamp::now().unix())
            .bind(tenant.to_string())
            .bind(client.key.to_string())
            .execute(&self.pool)
            .await
            .map_err(conflict("a client with this client id"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query("SELECT * FROM clients WHERE tenant_id = ? ORDER BY client_id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE tenant_id = ? AND client_id = ?")
            .bind(tenant.to_string())
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}
