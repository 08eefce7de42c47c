//! Tenants, users (with their roles) and clients.

use super::{all, conflict, date, literal_regex, scoped, timestamp, MongoStore};
use crate::domain::{
    Client, ExchangePolicy, Placement, Tenant, TenantId, TenantSettings, TenantSlug, Timestamp,
    User, UserId,
};
use crate::store::decode::{self, parse};
use crate::store::{
    placement_of, sealed_database, ClientRepo, StoreError, StoreResult, TenantRepo, UserQuery,
    UserRepo,
};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct TenantDoc {
    id: String,
    slug: String,
    name: String,
    status: String,
    settings: TenantSettings,
    created_at: DateTime,
    updated_at: DateTime,
    /// Sealed settings of the tenant's own database; absent for the main one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database: Option<String>,
}

impl TenantDoc {
    fn into_tenant(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: parse(&self.id)?,
            slug: decode::slug(&self.slug)?,
            name: self.name,
            status: decode::tenant_status(&self.status)?,
            settings: self.settings,
            created_at: timestamp(self.created_at),
            placement: placement_of(self.database),
        })
    }
}

#[async_trait]
impl TenantRepo for MongoStore {
    async fn create(&self, tenant: &Tenant) -> StoreResult<()> {
        let document = TenantDoc {
            id: tenant.id.to_string(),
            slug: tenant.slug.as_str().into(),
            name: tenant.name.clone(),
            status: tenant.status.as_str().into(),
            settings: tenant.settings.clone(),
            created_at: date(tenant.created_at),
            updated_at: date(tenant.created_at),
            database: sealed_database(&tenant.placement)?.map(str::to_owned),
        };
        self.collection::<TenantDoc>("tenants")
            .insert_one(document)
            .await
            .map_err(conflict("tenant"))?;
        Ok(())
    }

    async fn by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        self.collection::<TenantDoc>("tenants")
            .find_one(doc! { "slug": slug.as_str() })
            .await?
            .map(TenantDoc::into_tenant)
            .transpose()
    }

    async fn by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.collection::<TenantDoc>("tenants")
            .find_one(doc! { "id": id.to_string() })
            .await?
            .map(TenantDoc::into_tenant)
            .transpose()
    }

    async fn update(&self, tenant: &Tenant) -> StoreResult<()> {
        let settings = mongodb::bson::to_bson(&tenant.settings)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = self
            .collection::<TenantDoc>("tenants")
            .update_one(
                doc! { "id": tenant.id.to_string() },
                doc! { "$set": {
                    "name": &tenant.name,
                    "status": tenant.status.as_str(),
                    "settings": settings,
                    "updated_at": date(Timestamp::now()),
                } },
            )
            .await?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn place(&self, id: TenantId, placement: &Placement) -> StoreResult<()> {
        let database = sealed_database(placement)?;
        let done = self
            .collection::<TenantDoc>("tenants")
            .update_one(
                doc! { "id": id.to_string() },
                doc! { "$set": {
                    "database": database,
                    "updated_at": date(Timestamp::now()),
                } },
            )
            .await?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(
        &self,
        text: Option<&str>,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Vec<Tenant>> {
        let mut filter = match after {
            Some(after) => doc! { "id": { "$gt": after.to_string() } },
            None => doc! {},
        };
        if let Some(text) = text {
            let pattern = literal_regex(text);
            filter.insert(
                "$or",
                vec![
                    doc! { "slug": { "$regex": &pattern, "$options": "i" } },
                    doc! { "name": { "$regex": &pattern, "$options": "i" } },
                ],
            );
        }
        let cursor = self
            .collection::<TenantDoc>("tenants")
            .find(filter)
            .sort(doc! { "id": 1 })
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(TenantDoc::into_tenant)
            .collect()
    }

    async fn delete(&self, id: TenantId) -> StoreResult<bool> {
        // Its documents first, the tenant last: a retry after a failure finishes the job.
        self.delete_tenant_documents(id).await?;
        let done = self
            .collection::<TenantDoc>("tenants")
            .delete_one(doc! { "id": id.to_string() })
            .await?;
        Ok(done.deleted_count == 1)
    }
}

#[derive(Serialize, Deserialize)]
struct UserDoc {
    tenant_id: String,
    id: String,
    email: String,
    name: Option<String>,
    password_hash: Option<String>,
    email_verified: bool,
    blocked: bool,
    deleted_at: Option<DateTime>,
    last_login_at: Option<DateTime>,
    login_count: i64,
    created_at: DateTime,
    updated_at: DateTime,
    /// Kept in the user's document so creating a user with roles is one atomic insert.
    roles: Vec<String>,
    /// Absent in documents written before it existed.
    #[serde(default)]
    external_id: Option<String>,
}

impl UserDoc {
    fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            email: decode::email(&self.email)?,
            name: self.name,
            password_hash: self.password_hash,
            email_verified: self.email_verified,
            blocked: self.blocked,
            deleted_at: self.deleted_at.map(timestamp),
            last_login_at: self.last_login_at.map(timestamp),
            login_count: self.login_count,
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
            external_id: self.external_id,
        })
    }
}

#[async_trait]
impl UserRepo for MongoStore {
    async fn create(&self, tenant: TenantId, user: &User, roles: &[&str]) -> StoreResult<()> {
        debug_assert_eq!(tenant, user.tenant_id);
        let mut roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        roles.sort();
        roles.dedup();
        let document = UserDoc {
            tenant_id: tenant.to_string(),
            id: user.id.to_string(),
            email: user.email.as_str().into(),
            name: user.name.clone(),
            password_hash: user.password_hash.clone(),
            email_verified: user.email_verified,
            blocked: user.blocked,
            deleted_at: user.deleted_at.map(date),
            last_login_at: user.last_login_at.map(date),
            login_count: user.login_count,
            created_at: date(user.created_at),
            updated_at: date(user.updated_at),
            roles,
            external_id: user.external_id.clone(),
        };
        self.collection::<UserDoc>("users")
            .insert_one(document)
            .await
            .map_err(conflict("a user with this email"))?;
        Ok(())
    }

    async fn by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        self.collection::<UserDoc>("users")
            .find_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?
            .map(UserDoc::into_user)
            .transpose()
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<User>> {
        self.collection::<UserDoc>("users")
            .find_one(scoped(tenant, doc! { "email": email }))
            .await?
            .map(UserDoc::into_user)
            .transpose()
    }

    async fn record_login(&self, tenant: TenantId, id: UserId, at: Timestamp) -> StoreResult<()> {
        let done = self
            .collection::<UserDoc>("users")
            .update_one(
                scoped(tenant, doc! { "id": id.to_string() }),
                doc! {
                    "$set": { "last_login_at": date(at), "updated_at": date(at) },
                    "$inc": { "login_count": 1_i64 },
                },
            )
            .await?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn update(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let done = self
            .collection::<UserDoc>("users")
            .update_one(
                scoped(tenant, doc! { "id": user.id.to_string() }),
                doc! { "$set": {
                    "email": user.email.as_str(),
                    "name": &user.name,
                    "password_hash": &user.password_hash,
                    "email_verified": user.email_verified,
                    "blocked": user.blocked,
                    "deleted_at": user.deleted_at.map(date),
                    "updated_at": date(user.updated_at),
                    "external_id": &user.external_id,
                } },
            )
            .await
            .map_err(conflict("a user with this email"))?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn roles(&self, tenant: TenantId, id: UserId) -> StoreResult<Vec<String>> {
        let mut roles = self
            .collection::<UserDoc>("users")
            .find_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?
            .map(|u| u.roles)
            .unwrap_or_default();
        // Assignments append to the list.
        roles.sort();
        Ok(roles)
    }

    async fn list(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        // Ids are UUIDv7 in their canonical text form, so text order is creation order.
        let filter = match after {
            Some(after) => scoped(tenant, doc! { "id": { "$gt": after.to_string() } }),
            None => scoped(tenant, doc! {}),
        };
        let cursor = self
            .collection::<UserDoc>("users")
            .find(filter)
            .sort(doc! { "id": 1 })
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(UserDoc::into_user)
            .collect()
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &UserQuery,
        before: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        // Every condition must hold; those on other collections become sets of user ids.
        let mut conditions = Vec::new();
        if let Some(before) = before {
            conditions.push(doc! { "id": { "$lt": before.to_string() } });
        }
        if let Some(text) = &query.text {
            let pattern = literal_regex(text);
            conditions.push(doc! { "$or": [
                { "email": { "$regex": &pattern, "$options": "i" } },
                { "name": { "$regex": &pattern, "$options": "i" } },
            ] });
        }
        if let Some(blocked) = query.blocked {
            conditions.push(doc! { "blocked": blocked });
        }
        match query.deleted {
            Some(true) => conditions.push(doc! { "deleted_at": { "$ne": null } }),
            Some(false) => conditions.push(doc! { "deleted_at": null }),
            None => {}
        }
        if let Some(verified) = query.email_verified {
            conditions.push(doc! { "email_verified": verified });
        }
        if let Some(mfa) = query.mfa {
            // Backup codes alone are no second factor.
            let ids = self
                .strings(
                    "factors",
                    scoped(tenant, doc! { "kind": { "$ne": "backup_codes" } }),
                    "user_id",
                    doc! { "user_id": 1 },
                )
                .await?;
            let operator = if mfa { "$in" } else { "$nin" };
            conditions.push(doc! { "id": { operator: ids } });
        }
        if let Some(role) = &query.role {
            let teams = self
                .strings(
                    "teams",
                    scoped(tenant, doc! { "roles": role }),
                    "id",
                    doc! { "id": 1 },
                )
                .await?;
            let through_teams = if teams.is_empty() {
                Vec::new()
            } else {
                self.strings(
                    "team_members",
                    scoped(tenant, doc! { "team_id": { "$in": teams } }),
                    "user_id",
                    doc! { "user_id": 1 },
                )
                .await?
            };
            conditions.push(doc! { "$or": [
                { "roles": role },
                { "id": { "$in": through_teams } },
            ] });
        }
        if let Some(team) = query.team {
            let ids = self
                .strings(
                    "team_members",
                    scoped(tenant, doc! { "team_id": team.to_string() }),
                    "user_id",
                    doc! { "user_id": 1 },
                )
                .await?;
            conditions.push(doc! { "id": { "$in": ids } });
        }
        let filter = if conditions.is_empty() {
            scoped(tenant, doc! {})
        } else {
            scoped(tenant, doc! { "$and": conditions })
        };
        let cursor = self
            .collection::<UserDoc>("users")
            .find(filter)
            .sort(doc! { "id": -1 })
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(UserDoc::into_user)
            .collect()
    }

    async fn delete(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        // The user first, so nothing new can start for it; then what depends on it, also when
        // the user was gone already: a retry after a failure finishes the job.
        let done = self
            .collection::<UserDoc>("users")
            .delete_one(scoped(tenant, doc! { "id": id.to_string() }))
            .await?;
        let user = id.to_string();
        for (collection, field) in [
            ("user_sessions", "user_id"),
            ("consents", "user_id"),
            ("factors", "user_id"),
            ("linked_identities", "user_id"),
            ("team_members", "user_id"),
            ("access_tokens", "user_id"),
            ("refresh_tokens", "token.user_id"),
        ] {
            self.collection::<Document>(collection)
                .delete_many(scoped(tenant, doc! { field: &user }))
                .await?;
        }
        Ok(done.deleted_count == 1)
    }
}

#[derive(Serialize, Deserialize)]
struct ClientDoc {
    tenant_id: String,
    id: String,
    client_id: String,
    name: String,
    client_type: String,
    secret_hash: Option<String>,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    require_pkce: bool,
    require_consent: bool,
    auth_method: String,
    access_token_ttl_secs: i64,
    id_token_ttl_secs: i64,
    refresh_token_ttl_secs: i64,
    refresh_family_ttl_secs: i64,
    resources: Vec<String>,
    id_token_signed_response_alg: String,
    require_pushed_authorization_requests: bool,
    #[serde(default)]
    require_dpop: bool,
    #[serde(default)]
    require_dpop_nonce: bool,
    #[serde(default)]
    require_signed_request_object: bool,
    #[serde(default)]
    token_exchange: ExchangePolicy,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// The JWK Set as JSON text: JWK member names need not be valid BSON field names.
    jwks: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<DateTime>,
    disabled: bool,
    #[serde(default)]
    logo_uri: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    registration_token_hash: Option<String>,
    created_at: DateTime,
    updated_at: DateTime,
}

impl ClientDoc {
    fn into_client(self) -> StoreResult<Client> {
        Ok(Client {
            key: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            client_id: self.client_id,
            name: self.name,
            client_type: decode::client_type(&self.client_type)?,
            secret_hash: self.secret_hash,
            redirect_uris: decode::redirect_uris(&self.redirect_uris)?,
            grant_types: decode::grant_types(&self.grant_types)?,
            scopes: self.scopes,
            require_pkce: self.require_pkce,
            require_consent: self.require_consent,
            auth_method: decode::auth_method(&self.auth_method)?,
            access_token_ttl_secs: self.access_token_ttl_secs,
            id_token_ttl_secs: self.id_token_ttl_secs,
            refresh_token_ttl_secs: self.refresh_token_ttl_secs,
            refresh_family_ttl_secs: self.refresh_family_ttl_secs,
            resources: self.resources,
            id_token_alg: decode::signing_alg(&self.id_token_signed_response_alg)?,
            require_par: self.require_pushed_authorization_requests,
            require_dpop: self.require_dpop,
            require_dpop_nonce: self.require_dpop_nonce,
            require_signed_request_object: self.require_signed_request_object,
            exchange: self.token_exchange,
            post_logout_redirect_uris: decode::redirect_uris(&self.post_logout_redirect_uris)?,
            backchannel_logout_uri: self.backchannel_logout_uri,
            jwks: self.jwks,
            jwks_uri: self.jwks_uri,
            previous_secret_hash: self.previous_secret_hash,
            previous_secret_expires_at: self.previous_secret_expires_at.map(timestamp),
            disabled: self.disabled,
            logo_uri: self.logo_uri,
            created_by: self.created_by.as_deref().map(parse).transpose()?,
            registration_token_hash: self.registration_token_hash,
            created_at: timestamp(self.created_at),
        })
    }
}

impl ClientDoc {
    fn new(tenant: TenantId, client: &Client) -> Self {
        let strings = |uris: &[crate::domain::RedirectUri]| {
            uris.iter().map(|u| u.as_str().to_string()).collect()
        };
        Self {
            tenant_id: tenant.to_string(),
            id: client.key.to_string(),
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            client_type: client.client_type.as_str().into(),
            secret_hash: client.secret_hash.clone(),
            redirect_uris: strings(&client.redirect_uris),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            scopes: client.scopes.clone(),
            require_pkce: client.require_pkce,
            require_consent: client.require_consent,
            auth_method: client.auth_method.as_str().into(),
            access_token_ttl_secs: client.access_token_ttl_secs,
            id_token_ttl_secs: client.id_token_ttl_secs,
            refresh_token_ttl_secs: client.refresh_token_ttl_secs,
            refresh_family_ttl_secs: client.refresh_family_ttl_secs,
            resources: client.resources.clone(),
            id_token_signed_response_alg: client.id_token_alg.as_str().into(),
            require_pushed_authorization_requests: client.require_par,
            require_dpop: client.require_dpop,
            require_dpop_nonce: client.require_dpop_nonce,
            require_signed_request_object: client.require_signed_request_object,
            token_exchange: client.exchange.clone(),
            post_logout_redirect_uris: strings(&client.post_logout_redirect_uris),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            jwks: client.jwks.clone(),
            jwks_uri: client.jwks_uri.clone(),
            previous_secret_hash: client.previous_secret_hash.clone(),
            previous_secret_expires_at: client.previous_secret_expires_at.map(date),
            disabled: client.disabled,
            logo_uri: client.logo_uri.clone(),
            created_by: client.created_by.map(|u| u.to_string()),
            registration_token_hash: client.registration_token_hash.clone(),
            created_at: date(client.created_at),
            updated_at: date(Timestamp::now()),
        }
    }
}

#[async_trait]
impl ClientRepo for MongoStore {
    async fn create(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        debug_assert_eq!(tenant, client.tenant_id);
        self.collection::<ClientDoc>("clients")
            .insert_one(ClientDoc::new(tenant, client))
            .await
            .map_err(conflict("a client with this client id"))?;
        Ok(())
    }

    async fn by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Client>> {
        self.collection::<ClientDoc>("clients")
            .find_one(scoped(tenant, doc! { "client_id": client_id }))
            .await?
            .map(ClientDoc::into_client)
            .transpose()
    }

    async fn update(&self, tenant: TenantId, client: &Client) -> StoreResult<()> {
        let done = self
            .collection::<ClientDoc>("clients")
            .replace_one(
                scoped(tenant, doc! { "id": client.key.to_string() }),
                ClientDoc::new(tenant, client),
            )
            .await
            .map_err(conflict("a client with this client id"))?;
        if done.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<Client>> {
        let cursor = self
            .collection::<ClientDoc>("clients")
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "client_id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(ClientDoc::into_client)
            .collect()
    }

    async fn delete(&self, tenant: TenantId, client_id: &str) -> StoreResult<bool> {
        let done = self
            .collection::<ClientDoc>("clients")
            .delete_one(scoped(tenant, doc! { "client_id": client_id }))
            .await?;
        Ok(done.deleted_count == 1)
    }
}
