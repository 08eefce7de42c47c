//! Initial access tokens of a tenant (RFC 7591 §3), one document each; a token is found by its
//! hash within its tenant.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{InitialAccessToken, TenantId, Timestamp};
use crate::store::decode::parse;
use crate::store::{InitialTokenRepo, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const COLLECTION: &str = "initial_access_tokens";

#[derive(Serialize, Deserialize)]
struct TokenDoc {
    tenant_id: String,
    id: String,
    name: String,
    hint: String,
    hash: String,
    max_uses: i64,
    uses: i64,
    /// `max_uses - uses`, kept beside them so that spending is one filtered update.
    uses_left: i64,
    created_by: String,
    created_at: DateTime,
    expires_at: DateTime,
    revoked_at: Option<DateTime>,
}

impl TokenDoc {
    fn into_token(self) -> StoreResult<InitialAccessToken> {
        Ok(InitialAccessToken {
            id: parse(&self.id)?,
            tenant_id: parse(&self.tenant_id)?,
            name: self.name,
            hint: self.hint,
            hash: self.hash,
            max_uses: self.max_uses,
            uses: self.uses,
            created_by: self.created_by,
            created_at: timestamp(self.created_at),
            expires_at: timestamp(self.expires_at),
            revoked_at: self.revoked_at.map(timestamp),
        })
    }
}

#[async_trait]
impl InitialTokenRepo for MongoStore {
    async fn create(&self, tenant: TenantId, token: &InitialAccessToken) -> StoreResult<()> {
        debug_assert_eq!(tenant, token.tenant_id);
        let document = TokenDoc {
            tenant_id: tenant.to_string(),
            id: token.id.to_string(),
            name: token.name.clone(),
            hint: token.hint.clone(),
            hash: token.hash.clone(),
            max_uses: token.max_uses,
            uses: token.uses,
            uses_left: token.max_uses - token.uses,
            created_by: token.created_by.clone(),
            created_at: date(token.created_at),
            expires_at: date(token.expires_at),
            revoked_at: token.revoked_at.map(date),
        };
        self.collection::<TokenDoc>(COLLECTION)
            .insert_one(document)
            .await
            .map_err(conflict("initial access token"))?;
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<InitialAccessToken>> {
        let cursor = self
            .collection::<TokenDoc>(COLLECTION)
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "created_at": -1, "id": -1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(TokenDoc::into_token)
            .collect()
    }

    async fn spend(
        &self,
        tenant: TenantId,
        hash: &str,
        at: Timestamp,
    ) -> StoreResult<Option<InitialAccessToken>> {
        let filter = scoped(
            tenant,
            doc! {
                "hash": hash,
                "revoked_at": null,
                "expires_at": { "$gt": date(at) },
                "uses_left": { "$gt": 0 },
            },
        );
        self.collection::<TokenDoc>(COLLECTION)
            .find_one_and_update(filter, doc! { "$inc": { "uses": 1, "uses_left": -1 } })
            .return_document(ReturnDocument::After)
            .await?
            .map(TokenDoc::into_token)
            .transpose()
    }

    async fn revoke(&self, tenant: TenantId, id: Uuid, at: Timestamp) -> StoreResult<bool> {
        let done = self
            .collection::<TokenDoc>(COLLECTION)
            .update_one(
                scoped(tenant, doc! { "id": id.to_string(), "revoked_at": null }),
                doc! { "$set": { "revoked_at": date(at) } },
            )
            .await?;
        Ok(done.modified_count == 1)
    }
}
