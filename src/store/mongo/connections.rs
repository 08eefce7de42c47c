//! Connections to upstream identity providers, one document each, and the identities linked
//! through them, one document per link. Without foreign keys, a connection's links are
//! deleted after it, and a link made while its connection or person went is taken back.

use super::{all, conflict, date, scoped, timestamp, to_document, MongoStore};
use crate::domain::{ClaimMapping, Connection, LinkedIdentity, TenantId, Timestamp, UserId};
use crate::store::decode::{self, parse};
use crate::store::{
    certificates_column, protocol_columns, ConnectionRepo, StoreError, StoreResult,
};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const CONNECTIONS: &str = "connections";
const LINKS: &str = "linked_identities";

#[derive(Serialize, Deserialize)]
struct ConnectionDoc {
    tenant_id: String,
    id: String,
    slug: String,
    name: String,
    preset: String,
    protocol: String,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    /// A SAML connection's signing certificates; absent for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificates: Option<Vec<String>>,
    client_id: String,
    client_secret: Option<String>,
    scopes: Vec<String>,
    subject_claim: String,
    email_claim: String,
    email_verified_claim: String,
    name_claim: String,
    domains: Vec<String>,
    provisioning: bool,
    enabled: bool,
    created_at: DateTime,
    updated_at: DateTime,
}

impl ConnectionDoc {
    fn new(tenant: TenantId, c: &Connection) -> Self {
        let (protocol, [issuer, authorization, token, userinfo]) = protocol_columns(&c.protocol);
        Self {
            tenant_id: tenant.to_string(),
            id: c.id.to_string(),
            slug: c.slug.clone(),
            name: c.name.clone(),
            preset: c.preset.as_str().into(),
            protocol: protocol.into(),
            issuer: issuer.map(str::to_owned),
            authorization_endpoint: authorization.map(str::to_owned),
            token_endpoint: token.map(str::to_owned),
            userinfo_endpoint: userinfo.map(str::to_owned),
            certificates: certificates_column(&c.protocol).cloned(),
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
            scopes: c.scopes.clone(),
            subject_claim: c.claims.subject.clone(),
            email_claim: c.claims.email.clone(),
            email_verified_claim: c.claims.email_verified.clone(),
            name_claim: c.claims.name.clone(),
            domains: c.domains.clone(),
            provisioning: c.provisioning,
            enabled: c.enabled,
            created_at: date(c.created_at),
            updated_at: date(c.updated_at),
        }
    }

    fn into_connection(self) -> StoreResult<Connection> {
        let addresses = [
            self.issuer,
            self.authorization_endpoint,
            self.token_endpoint,
            self.userinfo_endpoint,
        ];
        Ok(Connection {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            slug: self.slug,
            name: self.name,
            preset: decode::preset(&self.preset)?,
            protocol: decode::protocol(&self.protocol, addresses, self.certificates)?,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scopes: self.scopes,
            claims: ClaimMapping {
                subject: self.subject_claim,
                email: self.email_claim,
                email_verified: self.email_verified_claim,
                name: self.name_claim,
            },
            domains: self.domains,
            provisioning: self.provisioning,
            enabled: self.enabled,
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct LinkDoc {
    tenant_id: String,
    connection_id: String,
    subject: String,
    user_id: String,
    email: Option<String>,
    created_at: DateTime,
    last_used_at: Option<DateTime>,
}

impl LinkDoc {
    fn new(tenant: TenantId, link: &LinkedIdentity) -> Self {
        Self {
            tenant_id: tenant.to_string(),
            connection_id: link.connection_id.to_string(),
            subject: link.subject.clone(),
            user_id: link.user_id.to_string(),
            email: link.email.clone(),
            created_at: date(link.created_at),
            last_used_at: link.last_used_at.map(date),
        }
    }

    fn into_link(self) -> StoreResult<LinkedIdentity> {
        Ok(LinkedIdentity {
            tenant_id: parse(&self.tenant_id)?,
            connection_id: parse(&self.connection_id)?,
            subject: self.subject,
            user_id: parse(&self.user_id)?,
            email: self.email,
            created_at: timestamp(self.created_at),
            last_used_at: self.last_used_at.map(timestamp),
        })
    }
}

/// The filter on one upstream identity's link.
fn identity(tenant: TenantId, connection: Uuid, subject: &str) -> Document {
    scoped(
        tenant,
        doc! { "connection_id": connection.to_string(), "subject": subject },
    )
}

/// The filter on the person's link of one upstream identity.
fn persons_link(tenant: TenantId, user: UserId, connection: Uuid, subject: &str) -> Document {
    let mut filter = identity(tenant, connection, subject);
    filter.insert("user_id", user.to_string());
    filter
}

impl MongoStore {
    /// Whether the link's connection and person both exist.
    async fn parents_exist(&self, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<bool> {
        let connection = scoped(tenant, doc! { "id": link.connection_id.to_string() });
        let person = scoped(tenant, doc! { "id": link.user_id.to_string() });
        Ok(self.exists(CONNECTIONS, connection).await? && self.exists("users", person).await?)
    }
}

#[async_trait]
impl ConnectionRepo for MongoStore {
    async fn create(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
        debug_assert_eq!(tenant, connection.tenant_id);
        self.collection::<ConnectionDoc>(CONNECTIONS)
            .insert_one(ConnectionDoc::new(tenant, connection))
            .await
            .map_err(conflict("connection"))?;
        Ok(())
    }

    async fn update(&self, tenant: TenantId, connection: &Connection) -> StoreResult<()> {
        let mut settings = to_document(&ConnectionDoc::new(tenant, connection));
        settings.remove("created_at");
        let done = self
            .collection::<ConnectionDoc>(CONNECTIONS)
            .update_one(
                scoped(tenant, doc! { "id": connection.id.to_string() }),
                doc! { "$set": settings },
            )
            .await
            .map_err(conflict("connection"))?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Connection>> {
        let cursor = self
            .collection::<ConnectionDoc>(CONNECTIONS)
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "slug": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(ConnectionDoc::into_connection)
            .collect()
    }

    async fn by_slug(&self, tenant: TenantId, slug: &str) -> StoreResult<Option<Connection>> {
        self.collection::<ConnectionDoc>(CONNECTIONS)
            .find_one(scoped(tenant, doc! { "slug": slug }))
            .await?
            .map(ConnectionDoc::into_connection)
            .transpose()
    }

    async fn delete(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        // The connection first, so no new link can be made; then its links, also when it was
        // gone already: a retry after a failure finishes the job.
        let done = self
            .collection::<ConnectionDoc>(CONNECTIONS)
            .delete_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?;
        self.collection::<LinkDoc>(LINKS)
            .delete_many(scoped(tenant, doc! { "connection_id": id.to_string() }))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn link(&self, tenant: TenantId, link: &LinkedIdentity) -> StoreResult<()> {
        debug_assert_eq!(tenant, link.tenant_id);
        if !self.parents_exist(tenant, link).await? {
            return Err(StoreError::NotFound);
        }
        self.collection::<LinkDoc>(LINKS)
            .insert_one(LinkDoc::new(tenant, link))
            .await
            .map_err(conflict("linked identity"))?;
        // Deleting a connection or a person removes it before its links: if either went while
        // this link was made, take it back rather than leave it behind.
        if self.parents_exist(tenant, link).await? {
            return Ok(());
        }
        let ours = persons_link(tenant, link.user_id, link.connection_id, &link.subject);
        self.collection::<LinkDoc>(LINKS).delete_one(ours).await?;
        Err(StoreError::NotFound)
    }

    async fn linked(
        &self,
        tenant: TenantId,
        connection: Uuid,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>> {
        self.collection::<LinkDoc>(LINKS)
            .find_one(identity(tenant, connection, subject))
            .await?
            .map(LinkDoc::into_link)
            .transpose()
    }

    async fn links_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<LinkedIdentity>> {
        let cursor = self
            .collection::<LinkDoc>(LINKS)
            .find(scoped(tenant, doc! { "user_id": user.to_string() }))
            .sort(doc! { "created_at": 1, "connection_id": 1, "subject": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(LinkDoc::into_link)
            .collect()
    }

    async fn record_link_use(
        &self,
        tenant: TenantId,
        connection: Uuid,
        subject: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.collection::<LinkDoc>(LINKS)
            .update_one(
                identity(tenant, connection, subject),
                doc! { "$set": { "last_used_at": date(at) } },
            )
            .await?;
        Ok(())
    }

    async fn unlink(
        &self,
        tenant: TenantId,
        user: UserId,
        connection: Uuid,
        subject: &str,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<LinkDoc>(LINKS)
            .delete_one(persons_link(tenant, user, connection, subject))
            .await?;
        Ok(done.deleted_count == 1)
    }
}
