//! Connections to upstream identity providers and the identities linked through them, one
//! implementation for SQLite and PostgreSQL.

/// Implements `ConnectionRepo` for a sqlx store (`$store`, whose rows are `$row`).
macro_rules! connection_repo {
    ($store:ident, $row:ty) => {
        mod connection_statements {
            use super::$store;
            use crate::domain::{ClaimMapping, Connection, LinkedIdentity, TenantId, Timestamp, UserId};
            use crate::store::sql::{conflict, conflict_or_missing, found, Finish, Id};
            use crate::store::{certificates_column, decode, protocol_columns, ConnectionRepo, StoreResult};
            use sqlx::{types::Json, Database, Row};
            use uuid::Uuid;

            type Db = <$row as Row>::Database;
            type Query<'q> = sqlx::query::Query<'q, Db, <Db as Database>::Arguments<'q>>;

            fn connection_from_row(row: &$row) -> StoreResult<Connection> {
                let addresses: [Option<String>; 4] = [
                    row.try_get("issuer")?,
                    row.try_get("authorization_endpoint")?,
                    row.try_get("token_endpoint")?,
                    row.try_get("userinfo_endpoint")?,
                ];
                Ok(Connection {
                    id: row.try_get::<Id, _>("id")?.0,
                    tenant_id: row.try_get("tenant_id")?,
                    slug: row.try_get("slug")?,
                    name: row.try_get("name")?,
                    preset: decode::preset(row.try_get("preset")?)?,
                    protocol: decode::protocol(
                        row.try_get("protocol")?,
                        addresses,
                        row.try_get::<Option<Json<Vec<String>>>, _>("certificates")?.map(|c| c.0),
                    )?,
                    client_id: row.try_get("client_id")?,
                    client_secret: row.try_get("client_secret")?,
                    scopes: row.try_get::<Json<Vec<String>>, _>("scopes")?.0,
                    claims: ClaimMapping {
                        subject: row.try_get("subject_claim")?,
                        email: row.try_get("email_claim")?,
                        email_verified: row.try_get("email_verified_claim")?,
                        name: row.try_get("name_claim")?,
                    },
                    domains: row.try_get::<Json<Vec<String>>, _>("domains")?.0,
                    provisioning: row.try_get("provisioning")?,
                    enabled: row.try_get("enabled")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn link_from_row(row: &$row) -> StoreResult<LinkedIdentity> {
                Ok(LinkedIdentity {
                    tenant_id: row.try_get("tenant_id")?,
                    connection_id: row.try_get::<Id, _>("connection_id")?.0,
                    subject: row.try_get("subject")?,
                    user_id: row.try_get("user_id")?,
                    email: row.try_get("email")?,
                    created_at: row.try_get("created_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                })
            }

            /// Binds `$1` to `$20`: the columns a connection's update replaces.
            fn bind_settings<'q>(query: Query<'q>, c: &'q Connection) -> Query<'q> {
                let (protocol, [issuer, authorization, token, userinfo]) =
                    protocol_columns(&c.protocol);
                query
                    .bind(&c.slug)
                    .bind(&c.name)
                    .bind(c.preset.as_str())
                    .bind(protocol)
                    .bind(issuer)
                    .bind(authorization)
                    .bind(token)
                    .bind(userinfo)
                    .bind(&c.client_id)
                    .bind(&c.client_secret)
                    .bind(Json(&c.scopes))
                    .bind(&c.claims.subject)
                    .bind(&c.claims.email)
                    .bind(&c.claims.email_verified)
                    .bind(&c.claims.name)
                    .bind(Json(&c.domains))
                    .bind(c.provisioning)
                    .bind(c.enabled)
                    .bind(c.updated_at)
                    .bind(certificates_column(&c.protocol).map(Json))
            }

            #[async_trait::async_trait]
            impl ConnectionRepo for $store {
                async fn create(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
                    debug_assert_eq!(tenant, connection.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    let insert = sqlx::query(
                        "INSERT INTO connections (slug, name, preset, protocol, issuer, authorization_endpoint,
                             token_endpoint, userinfo_endpoint, client_id, client_secret, scopes, subject_claim,
                             email_claim, email_verified_claim, name_claim, domains, provisioning, enabled,
                             updated_at, certificates, tenant_id, id, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                                 $18, $19, $20, $21, $22, $23)",
                    );
                    bind_settings(insert, connection)
                        .bind(tenant)
                        .bind(Id(connection.id))
                        .bind(connection.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("connection"))?;
                    Ok(tx.finish().await?)
                }

                async fn update(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
                    let mut tx = self.tenant(tenant).await?;
                    let update = sqlx::query(
                        "UPDATE connections SET slug = $1, name = $2, preset = $3, protocol = $4, issuer = $5,
                             authorization_endpoint = $6, token_endpoint = $7, userinfo_endpoint = $8,
                             client_id = $9, client_secret = $10, scopes = $11, subject_claim = $12,
                             email_claim = $13, email_verified_claim = $14, name_claim = $15, domains = $16,
                             provisioning = $17, enabled = $18, updated_at = $19, certificates = $20
                         WHERE tenant_id = $21 AND id = $22",
                    );
                    let done = bind_settings(update, connection)
                        .bind(tenant)
                        .bind(Id(connection.id))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("connection"))?;
                    found(tx.finish_changing(done.rows_affected()).await?)
                }

                async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Connection>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query("SELECT * FROM connections WHERE tenant_id = $1 ORDER BY slug")
                        .bind(tenant)
                        .fetch_all(&mut *tx)
                        .await?;
                    tx.finish().await?;
                    rows.iter().map(connection_from_row).collect()
                }

                async fn by_slug(&self, tenant: TenantId, slug: &str) -> StoreResult<Option<Connection>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query("SELECT * FROM connections WHERE tenant_id = $1 AND slug = $2")
                        .bind(tenant)
                        .bind(slug)
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.finish().await?;
                    row.as_ref().map(connection_from_row).transpose()
                }

                async fn delete(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
                    // Its links go by cascade.
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(Id(id))
                        .execute(&mut *tx)
                        .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }

                async fn link(&self, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<()> {
                    debug_assert_eq!(tenant, link.tenant_id);
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "INSERT INTO linked_identities (tenant_id, connection_id, subject, user_id, email,
                                                        created_at, last_used_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(tenant)
                    .bind(Id(link.connection_id))
                    .bind(&link.subject)
                    .bind(link.user_id)
                    .bind(&link.email)
                    .bind(link.created_at)
                    .bind(link.last_used_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_or_missing("linked identity"))?;
                    Ok(tx.finish().await?)
                }

                async fn linked(
                    &self,
                    tenant: TenantId,
                    connection: Uuid,
                    subject: &str,
                ) -> StoreResult<Option<LinkedIdentity>> {
                    let mut tx = self.tenant(tenant).await?;
                    let row = sqlx::query(
                        "SELECT * FROM linked_identities
                         WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3",
                    )
                    .bind(tenant)
                    .bind(Id(connection))
                    .bind(subject)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    row.as_ref().map(link_from_row).transpose()
                }

                async fn links_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<LinkedIdentity>> {
                    let mut tx = self.tenant(tenant).await?;
                    let rows = sqlx::query(
                        "SELECT * FROM linked_identities WHERE tenant_id = $1 AND user_id = $2
                         ORDER BY created_at, connection_id, subject",
                    )
                    .bind(tenant)
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.finish().await?;
                    rows.iter().map(link_from_row).collect()
                }

                async fn record_link_use(
                    &self,
                    tenant: TenantId,
                    connection: Uuid,
                    subject: &str,
                    at: Timestamp,
                ) -> StoreResult<()> {
                    let mut tx = self.tenant(tenant).await?;
                    sqlx::query(
                        "UPDATE linked_identities SET last_used_at = $1
                         WHERE tenant_id = $2 AND connection_id = $3 AND subject = $4",
                    )
                    .bind(at)
                    .bind(tenant)
                    .bind(Id(connection))
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish().await?)
                }

                async fn unlink(
                    &self,
                    tenant: TenantId,
                    user: UserId,
                    connection: Uuid,
                    subject: &str,
                ) -> StoreResult<bool> {
                    let mut tx = self.tenant(tenant).await?;
                    let done = sqlx::query(
                        "DELETE FROM linked_identities
                         WHERE tenant_id = $1 AND user_id = $2 AND connection_id = $3 AND subject = $4",
                    )
                    .bind(tenant)
                    .bind(user)
                    .bind(Id(connection))
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                    Ok(tx.finish_changing(done.rows_affected()).await? == 1)
                }
            }
        }
    };
}

pub(crate) use connection_repo;
