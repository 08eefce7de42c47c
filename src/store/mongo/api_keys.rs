//! API keys of a tenant, one document each; a key is found by its hash within its tenant.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{ApiKey, TenantId, Timestamp};
use crate::store::decode::{self, parse};
use crate::store::{ApiKeyRepo, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const COLLECTION: &str = "api_keys";

#[derive(Serialize, Deserialize)]
struct KeyDoc {
    tenant_id: String,
    id: String,
    name: String,
    hint: String,
    hash: String,
    permissions: Vec<String>,
    created_by: String,
    created_at: DateTime,
    expires_at: DateTime,
    last_used_at: Option<DateTime>,
    revoked_at: Option<DateTime>,
}

impl KeyDoc {
    fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            name: self.name,
            hint: self.hint,
            hash: self.hash,
            permissions: self
                .permissions
                .iter()
                .map(|p| decode::permission(p))
                .collect::<StoreResult<_>>()?,
            created_by: self.created_by,
            created_at: timestamp(self.created_at),
            expires_at: timestamp(self.expires_at),
            last_used_at: self.last_used_at.map(timestamp),
            revoked_at: self.revoked_at.map(timestamp),
        })
    }
}

#[async_trait]
impl ApiKeyRepo for MongoStore {
    async fn create(&self, tenant: TenantId, key: &ApiKey) -> StoreResult<()> {
        debug_assert_eq!(tenant, key.tenant_id);
        let document = KeyDoc {
            tenant_id: tenant.to_string(),
            id: key.id.to_string(),
            name: key.name.clone(),
            hint: key.hint.clone(),
            hash: key.hash.clone(),
            permissions: key
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            created_by: key.created_by.clone(),
            created_at: date(key.created_at),
            expires_at: date(key.expires_at),
            last_used_at: key.last_used_at.map(date),
            revoked_at: key.revoked_at.map(date),
        };
        self.collection::<KeyDoc>(COLLECTION)
            .insert_one(document)
            .await
            .map_err(conflict("API key"))?;
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>> {
        let cursor = self
            .collection::<KeyDoc>(COLLECTION)
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "created_at": -1, "id": -1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(KeyDoc::into_key)
            .collect()
    }

    async fn by_hash(&self, tenant: TenantId, hash: &str) -> StoreResult<Option<ApiKey>> {
        self.collection::<KeyDoc>(COLLECTION)
            .find_one(scoped(tenant, doc! { "hash": hash }))
            .await?
            .map(KeyDoc::into_key)
            .transpose()
    }

    async fn record_use(
        &self,
        tenant: TenantId,
        id: Uuid,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()> {
        let filter = scoped(
            tenant,
            doc! {
                "id": id.to_string(),
                "$or": [{ "last_used_at": null }, { "last_used_at": { "$lt": date(since) } }],
            },
        );
        self.collection::<KeyDoc>(COLLECTION)
            .update_one(filter, doc! { "$set": { "last_used_at": date(at) } })
            .await?;
        Ok(())
    }

    async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool> {
        let done = self
            .collection::<KeyDoc>(COLLECTION)
            .update_one(
                scoped(tenant, doc! { "id": id.to_string(), "revoked_at": null }),
                doc! { "$set": { "revoked_at": date(at) } },
            )
            .await?;
        Ok(done.modified_count == 1)
    }
}
