//! Second factors of users, one document each. A use is a conditional update on `version`, so
//! two concurrent uses of one code cannot both succeed without a transaction.

use super::{all, conflict, date, scoped, timestamp, MongoStore};
use crate::domain::{Factor, TenantId, Timestamp, UserId};
use crate::store::decode::{self, parse};
use crate::store::{FactorRepo, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct FactorDoc {
    tenant_id: String,
    id: String,
    user_id: String,
    kind: String,
    name: String,
    data: String,
    version: i64,
    created_at: DateTime,
    last_used_at: Option<DateTime>,
}

impl FactorDoc {
    fn into_factor(self) -> StoreResult<Factor> {
        Ok(Factor {
            id: self.id,
            tenant_id: parse(&self.tenant_id)?,
            user_id: parse(&self.user_id)?,
            kind: decode::factor_kind(&self.kind)?,
            name: self.name,
            data: self.data,
            version: self.version,
            created_at: timestamp(self.created_at),
            last_used_at: self.last_used_at.map(timestamp),
        })
    }
}

#[async_trait]
impl FactorRepo for MongoStore {
    async fn add(&self, tenant: TenantId, f: &Factor) -> StoreResult<()> {
        debug_assert_eq!(tenant, f.tenant_id);
        let document = FactorDoc {
            tenant_id: tenant.to_string(),
            id: f.id.clone(),
            user_id: f.user_id.to_string(),
            kind: f.kind.as_str().into(),
            name: f.name.clone(),
            data: f.data.clone(),
            version: f.version,
            created_at: date(f.created_at),
            last_used_at: f.last_used_at.map(date),
        };
        self.collection::<FactorDoc>("factors")
            .insert_one(document)
            .await
            .map_err(conflict("factor"))?;
        Ok(())
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Factor>> {
        let cursor = self
            .collection::<FactorDoc>("factors")
            .find(scoped(tenant, doc! { "user_id": user.to_string() }))
            .sort(doc! { "created_at": 1, "id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(FactorDoc::into_factor)
            .collect()
    }

    async fn swap(
        &self,
        tenant: TenantId,
        id: &str,
        version: i64,
        data: &str,
        used_at: Timestamp,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<FactorDoc>("factors")
            .update_one(
                scoped(tenant, doc! { "id": id, "version": version }),
                doc! {
                    "$set": { "data": data, "last_used_at": date(used_at) },
                    "$inc": { "version": 1_i64 },
                },
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    async fn remove(&self, tenant: TenantId, user: UserId, id: &str) -> StoreResult<bool> {
        let done = self
            .collection::<FactorDoc>("factors")
            .delete_one(scoped(
                tenant,
                doc! { "user_id": user.to_string(), "id": id },
            ))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn remove_all(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
        let done = self
            .collection::<FactorDoc>("factors")
            .delete_many(scoped(tenant, doc! { "user_id": user.to_string() }))
            .await?;
        Ok(done.deleted_count)
    }
}
