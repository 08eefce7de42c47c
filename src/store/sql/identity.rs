//! Tenants, users and clients, one implementation for SQLite and PostgreSQL.

/// Implements `TenantRepo`, `UserRepo` and `ClientRepo` for a sqlx store (`$store`, whose rows
/// are `$row`).
macro_rules! identity_repo {
    ($store:ident, $row:ty) => {
        mod identity_statements {
            use super::$store;
            use crate::domain::{
                Client, ExchangePolicy, Placement, Tenant, TenantId, TenantSettings, TenantSlug,
                Timestamp, User, UserId,
            };
            use crate::store::sql::{conflict, found, contains_pattern, Finish, Id};
            use crate::store::{
                decode, placement_of, sealed_database, ClientRepo, StoreError, StoreResult,
                TenantRepo, UserQuery, UserRepo,
            };
            use sqlx::{types::Json, Database, Row};
            use std::sync::LazyLock;
            use uuid::Uuid;

            type Db = <$row as Row>::Database;

            fn tenant_from_row(row: &$row) -> StoreResult<Tenant> {
                let Json(settings): Json<TenantSettings> = row.try_get("settings")?;
                Ok(Tenant {
                    id: row.try_get("id")?,
                    slug: decode::slug(row.try_get("slug")?)?,
                    name: row.try_get("name")?,
                    status: decode::tenant_status(row.try_get("status")?)?,
                    settings,
                    created_at: row.try_get("created_at")?,
                    placement: placement_of(row.try_get("database")?),
                })
            }

            #[async_trait::async_trait]
            impl TenantRepo for $store {
                async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO tenants (id, slug, name, status, settings, created_at, updated_at, database)
                         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                    )
                    .bind(tenant.id)
                    .bind(tenant.slug.as_str())
                    .bind(&tenant.name)
                    .bind(tenant.status.as_str())
                    .bind(Json(&tenant.settings))
                    .bind(tenant.created_at)
                    .bind(sealed_database(&tenant.placement)?)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict("tenant"))?;
                    Ok(())
                }

                async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
                    sqlx::query("SELECT * FROM tenants WHERE slug = $1")
                        .bind(slug.as_str())
                        .fetch_optional(&self.pool)
                        .await?
                        .map(|r| tenant_from_row(&r))
                        .transpose()
                }

                async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
                    sqlx::query("SELECT * FROM tenants WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .map(|r| tenant_from_row(&r))
                        .transpose()
                }

                async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
                    // A tenant transaction: the audit events of a policy change commit with it.
                    let mut db = self.tenant_tx(tenant.id).await?;
                    let done = sqlx::query(
                        "UPDATE tenants SET name = $1, status = $2, settings = $3, updated_at = $4 WHERE id = $5",
                    )
                    .bind(&tenant.name)
                    .bind(tenant.status.as_str())
                    .bind(Json(&tenant.settings))
                    .bind(Timestamp::now())
                    .bind(tenant.id)
                    .execute(&mut *db)
                    .await?;
                    found(db.finish_changing(done.rows_affected()).await?)
                }

                async fn place(&self, id: TenantId, placement: &Placement) -> StoreResult<()> {
                    let done = sqlx::query("UPDATE tenants SET database = $1, updated_at = $2 WHERE id = $3")
                        .bind(sealed_database(placement)?)
                        .bind(Timestamp::now())
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    found(done.rows_affected())
                }

                async fn list(
                    &self,
                    text: Option<&str>,
                    after: Option<TenantId>,
                    limit: u32,
                ) -> StoreResult<Vec<Tenant>> {
                    let rows = sqlx::query(
                        "SELECT * FROM tenants WHERE id > $1
                           AND ($3 IS NULL OR lower(slug) LIKE $3 ESCAPE '\\' OR lower(name) LIKE $3 ESCAPE '\\')
                         ORDER BY id LIMIT $2",
                    )
                    .bind(after.unwrap_or_else(|| Uuid::nil().into()))
                    .bind(i64::from(limit))
                    .bind(text.map(contains_pattern))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(tenant_from_row).collect()
                }

                async fn delete(&self, id: TenantId) -> StoreResult<bool> {
                    // Scoped to the tenant itself, so row-level security admits every row of it.
                    let mut db = self.tenant_tx(id).await?;
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
                            .bind(id)
                            .execute(&mut *db)
                            .await?;
                    }
                    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
                        .bind(id)
                        .execute(&mut *db)
                        .await?;
                    Ok(db.finish_changing(done.rows_affected()).await? == 1)
                }
            }

            fn user_from_row(row: &$row) -> StoreResult<User> {
                Ok(User {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    email: decode::email(row.try_get("email")?)?,
                    name: row.try_get("name")?,
                    password_hash: row.try_get("password_hash")?,
                    email_verified: row.try_get("email_verified")?,
                    blocked: row.try_get("blocked")?,
                    deleted_at: row.try_get("deleted_at")?,
                    last_login_at: row.try_get("last_login_at")?,
                    login_count: row.try_get("login_count")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    external_id: row.try_get("external_id")?,
                })
            }

            #[async_trait::async_trait]
            impl UserRepo for $store {
                async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()> {
                    debug_assert_eq!(tenant, user.tenant_id);
                    let mut db = self.tenant_tx(tenant).await?;
                    sqlx::query(
                        "INSERT INTO users (tenant_id, id, email, name, password_hash, email_verified, blocked,
                                            deleted_at, last_login_at, login_count, created_at, updated_at,
                                            external_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    )
                    .bind(tenant)
                    .bind(user.id)
                    .bind(user.email.as_str())
                    .bind(&user.name)
                    .bind(&user.password_hash)
                    .bind(user.email_verified)
                    .bind(user.blocked)
                    .bind(user.deleted_at)
                    .bind(user.last_login_at)
                    .bind(user.login_count)
                    .bind(user.created_at)
                    .bind(user.updated_at)
                    .bind(&user.external_id)
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("a user with this email"))?;
                    for role in roles {
                        sqlx::query(
                            "INSERT INTO role_assignments (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(tenant)
                        .bind(user.id)
                        .bind(role)
                        .bind(user.created_at)
                        .execute(&mut *db)
                        .await
                        .map_err(conflict("role assignment"))?;
                    }
                    Ok(db.finish().await?)
                }

                async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .fetch_optional(&mut *db)
                        .await?;
                    db.finish().await?;
                    row.map(|r| user_from_row(&r)).transpose()
                }

                async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND email = $2")
                        .bind(tenant)
                        .bind(email)
                        .fetch_optional(&mut *db)
                        .await?;
                    db.finish().await?;
                    row.map(|r| user_from_row(&r)).transpose()
                }

                async fn record_login(&self, tenant: TenantId, id: UserId, when: Timestamp) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE users SET last_login_at = $1, login_count = login_count + 1, updated_at = $1
                         WHERE tenant_id = $2 AND id = $3",
                    )
                    .bind(when)
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *db)
                    .await?;
                    found(db.finish_changing(done.rows_affected()).await?)
                }

                async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "UPDATE users SET email = $1, name = $2, password_hash = $3, email_verified = $4,
                                          blocked = $5, deleted_at = $6, updated_at = $7, external_id = $8
                         WHERE tenant_id = $9 AND id = $10",
                    )
                    .bind(user.email.as_str())
                    .bind(&user.name)
                    .bind(&user.password_hash)
                    .bind(user.email_verified)
                    .bind(user.blocked)
                    .bind(user.deleted_at)
                    .bind(user.updated_at)
                    .bind(&user.external_id)
                    .bind(tenant)
                    .bind(user.id)
                    .execute(&mut *db)
                    .await
                    .map_err(conflict("a user with this email"))?;
                    found(db.finish_changing(done.rows_affected()).await?)
                }

                async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>> {
                    let mut db = self.tenant(tenant).await?;
                    let roles = sqlx::query_scalar(
                        "SELECT role FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 ORDER BY role",
                    )
                    .bind(tenant)
                    .bind(id)
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    Ok(roles)
                }

                async fn list(
                    &self,
                    tenant: TenantId,
                    after: Option<UserId>,
                    limit: u32,
                ) -> StoreResult<Vec<User>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM users WHERE tenant_id = $1 AND id > $2
                         ORDER BY id LIMIT $3",
                    )
                    .bind(tenant)
                    .bind(after.unwrap_or_else(|| Uuid::nil().into()))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(user_from_row).collect()
                }

                async fn search(
                    &self,
                    tenant: TenantId,
                    query: &UserQuery,
                    before: Option<UserId>,
                    limit: u32,
                ) -> StoreResult<Vec<User>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT u.* FROM users u WHERE u.tenant_id = $1
                           AND u.id < $2
                           AND ($3 IS NULL OR lower(u.email) LIKE $3 ESCAPE '\\'
                                OR lower(coalesce(u.name, '')) LIKE $3 ESCAPE '\\')
                           AND ($4 IS NULL OR u.blocked = $4)
                           AND ($5 IS NULL OR (u.deleted_at IS NOT NULL) = $5)
                           AND ($6 IS NULL OR EXISTS (
                                SELECT 1 FROM factors f WHERE f.tenant_id = u.tenant_id AND f.user_id = u.id
                                  AND f.kind <> 'backup_codes') = $6)
                           AND ($7 IS NULL OR u.email_verified = $7)
                           AND ($8 IS NULL
                                OR EXISTS (SELECT 1 FROM role_assignments r
                                           WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = $8)
                                OR EXISTS (SELECT 1 FROM team_members m JOIN team_roles t
                                             ON t.tenant_id = m.tenant_id AND t.team_id = m.team_id
                                           WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id AND t.role = $8))
                           AND ($9 IS NULL OR EXISTS (
                                SELECT 1 FROM team_members m
                                WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id AND m.team_id = $9))
                         ORDER BY u.id DESC LIMIT $10",
                    )
                    .bind(tenant)
                    .bind(before.unwrap_or_else(|| Uuid::max().into()))
                    .bind(query.text.as_deref().map(contains_pattern))
                    .bind(query.blocked)
                    .bind(query.deleted)
                    .bind(query.mfa)
                    .bind(query.email_verified)
                    .bind(&query.role)
                    .bind(query.team.map(Id))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *db)
                    .await?;
                    db.finish().await?;
                    rows.iter().map(user_from_row).collect()
                }

                async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
                    let mut db = self.tenant_tx(tenant).await?;
                    // Sign-ins, consents, factors, linked identities, roles and memberships go by
                    // cascade; tokens name the user without a foreign key.
                    for sql in [
                        "DELETE FROM refresh_tokens
                         WHERE tenant_id = $1 AND data ->> 'user_id' = CAST($2 AS TEXT)",
                        "DELETE FROM access_tokens WHERE tenant_id = $1 AND user_id = $2",
                    ] {
                        sqlx::query(sql)
                            .bind(tenant)
                            .bind(id)
                            .execute(&mut *db)
                            .await?;
                    }
                    let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .execute(&mut *db)
                        .await?;
                    Ok(db.finish_changing(done.rows_affected()).await? == 1)
                }
            }

            fn client_from_row(row: &$row) -> StoreResult<Client> {
                let Json(redirect_uris): Json<Vec<String>> = row.try_get("redirect_uris")?;
                let Json(grant_types): Json<Vec<String>> = row.try_get("grant_types")?;
                let Json(scopes): Json<Vec<String>> = row.try_get("scopes")?;
                let Json(resources): Json<Vec<String>> = row.try_get("resources")?;
                let Json(post_logout): Json<Vec<String>> = row.try_get("post_logout_redirect_uris")?;
                let Json(exchange): Json<ExchangePolicy> = row.try_get("token_exchange")?;
                Ok(Client {
                    key: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    client_id: row.try_get("client_id")?,
                    name: row.try_get("name")?,
                    client_type: decode::client_type(row.try_get("client_type")?)?,
                    secret_hash: row.try_get("secret_hash")?,
                    redirect_uris: decode::redirect_uris(&redirect_uris)?,
                    grant_types: decode::grant_types(&grant_types)?,
                    scopes,
                    require_pkce: row.try_get("require_pkce")?,
                    require_consent: row.try_get("require_consent")?,
                    auth_method: decode::auth_method(row.try_get("auth_method")?)?,
                    access_token_ttl_secs: row.try_get("access_token_ttl_secs")?,
                    id_token_ttl_secs: row.try_get("id_token_ttl_secs")?,
                    refresh_token_ttl_secs: row.try_get("refresh_token_ttl_secs")?,
                    refresh_family_ttl_secs: row.try_get("refresh_family_ttl_secs")?,
                    resources,
                    id_token_alg: decode::signing_alg(row.try_get("id_token_signed_response_alg")?)?,
                    require_par: row.try_get("require_pushed_authorization_requests")?,
                    require_dpop: row.try_get("require_dpop")?,
                    require_dpop_nonce: row.try_get("require_dpop_nonce")?,
                    require_signed_request_object: row.try_get("require_signed_request_object")?,
                    exchange,
                    post_logout_redirect_uris: decode::redirect_uris(&post_logout)?,
                    backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
                    jwks: row
                        .try_get::<Option<Json<serde_json::Value>>, _>("jwks")?
                        .map(|Json(jwks)| jwks.to_string()),
                    jwks_uri: row.try_get("jwks_uri")?,
                    previous_secret_hash: row.try_get("previous_secret_hash")?,
                    previous_secret_expires_at: row.try_get("previous_secret_expires_at")?,
                    disabled: row.try_get("disabled")?,
                    logo_uri: row.try_get("logo_uri")?,
                    created_by: row.try_get("created_by")?,
                    registration_token_hash: row.try_get("registration_token_hash")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            /// The settings columns of `clients`, in the order [`bind_settings`] binds them.
            const CLIENT_SETTINGS: [&str; 31] = [
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
                "require_dpop",
                "require_dpop_nonce",
                "require_signed_request_object",
                "token_exchange",
                "post_logout_redirect_uris",
                "backchannel_logout_uri",
                "jwks",
                "jwks_uri",
                "previous_secret_hash",
                "previous_secret_expires_at",
                "disabled",
                "logo_uri",
                "created_by",
                "registration_token_hash",
            ];

            type Query<'q> = sqlx::query::Query<'q, Db, <Db as Database>::Arguments<'q>>;

            fn bind_settings<'q>(query: Query<'q>, c: &'q Client) -> StoreResult<Query<'q>> {
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
                    .bind(c.require_dpop)
                    .bind(c.require_dpop_nonce)
                    .bind(c.require_signed_request_object)
                    .bind(Json(&c.exchange))
                    .bind(Json(&c.post_logout_redirect_uris))
                    .bind(&c.backchannel_logout_uri)
                    .bind(jwks.map(Json))
                    .bind(&c.jwks_uri)
                    .bind(&c.previous_secret_hash)
                    .bind(c.previous_secret_expires_at)
                    .bind(c.disabled)
                    .bind(&c.logo_uri)
                    .bind(c.created_by)
                    .bind(&c.registration_token_hash))
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

            #[async_trait::async_trait]
            impl ClientRepo for $store {
                async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
                    debug_assert_eq!(tenant, client.tenant_id);
                    let mut db = self.tenant(tenant).await?;
                    bind_settings(sqlx::query(&INSERT_CLIENT), client)?
                        .bind(tenant)
                        .bind(client.key)
                        .bind(client.created_at)
                        .bind(client.created_at)
                        .execute(&mut *db)
                        .await
                        .map_err(conflict("a client with this client id"))?;
                    Ok(db.finish().await?)
                }

                async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>> {
                    let mut db = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM clients WHERE tenant_id = $1 AND client_id = $2")
                        .bind(tenant)
                        .bind(client_id)
                        .fetch_optional(&mut *db)
                        .await?;
                    db.finish().await?;
                    row.map(|r| client_from_row(&r)).transpose()
                }

                async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
                    let mut db = self.tenant(tenant).await?;
                    let done = bind_settings(sqlx::query(&UPDATE_CLIENT), client)?
                        .bind(Timestamp::now())
                        .bind(tenant)
                        .bind(client.key)
                        .execute(&mut *db)
                        .await
                        .map_err(conflict("a client with this client id"))?;
                    found(db.finish_changing(done.rows_affected()).await?)
                }

                async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>> {
                    let mut db = self.tenant(tenant).await?;
                    let rows = sqlx::query("SELECT * FROM clients WHERE tenant_id = $1 ORDER BY client_id")
                        .bind(tenant)
                        .fetch_all(&mut *db)
                        .await?;
                    db.finish().await?;
                    rows.iter().map(client_from_row).collect()
                }

                async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool> {
                    let mut db = self.tenant(tenant).await?;
                    let done = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND client_id = $2")
                        .bind(tenant)
                        .bind(client_id)
                        .execute(&mut *db)
                        .await?;
                    Ok(db.finish_changing(done.rows_affected()).await? == 1)
                }
            }
        }
    };
}

pub(crate) use identity_repo;
