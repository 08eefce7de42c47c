//! Login flows, authorization codes and access-token records.

use super::{
    conflict, date, from_document, scoped, timestamp, to_document, unavailable, MongoStore,
};
use crate::domain::{AccessTokenRecord, AuthorizationCode, LoginFlow, TenantId, Timestamp};
use crate::store::decode::parse;
use crate::store::{OidcArtifactRepo, Redemption, StoreResult};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct FlowDoc {
    tenant_id: String,
    id: String,
    flow: Document,
    expires_at: DateTime,
}

#[derive(Serialize, Deserialize)]
struct CodeDoc {
    tenant_id: String,
    code_hash: String,
    code: Document,
    expires_at: DateTime,
    redeemed_at: Option<DateTime>,
}

#[derive(Serialize, Deserialize)]
struct AccessTokenDoc {
    tenant_id: String,
    jti: String,
    client_id: String,
    user_id: Option<String>,
    scopes: Vec<String>,
    code_hash: Option<String>,
    issued_at: DateTime,
    expires_at: DateTime,
    revoked_at: Option<DateTime>,
}

#[async_trait]
impl OidcArtifactRepo for MongoStore {
    async fn put_flow(&self, tenant: TenantId, flow: &LoginFlow) -> StoreResult<()> {
        let document = FlowDoc {
            tenant_id: tenant.to_string(),
            id: flow.id.clone(),
            flow: to_document(flow),
            expires_at: date(flow.expires_at),
        };
        self.collection::<FlowDoc>("login_flows")
            .replace_one(scoped(tenant, doc! { "id": &flow.id }), document)
            .upsert(true)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_flow(&self, tenant: TenantId, id: &str) -> StoreResult<Option<LoginFlow>> {
        // The TTL sweep runs about once a minute; an expired flow must never be resumed.
        let filter = scoped(
            tenant,
            doc! { "id": id, "expires_at": { "$gt": date(Timestamp::now()) } },
        );
        self.collection::<FlowDoc>("login_flows")
            .find_one(filter)
            .await
            .map_err(unavailable)?
            .map(|d| from_document(d.flow))
            .transpose()
    }

    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
        self.collection::<FlowDoc>("login_flows")
            .delete_one(scoped(tenant, doc! { "id": id }))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_code(&self, tenant: TenantId, code: &AuthorizationCode) -> StoreResult<()> {
        let document = CodeDoc {
            tenant_id: tenant.to_string(),
            code_hash: code.code_hash.clone(),
            code: to_document(code),
            expires_at: date(code.expires_at),
            redeemed_at: None,
        };
        self.collection::<CodeDoc>("authorization_codes")
            .insert_one(document)
            .await
            .map_err(conflict("authorization code"))?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption> {
        let codes = self.collection::<CodeDoc>("authorization_codes");
        // One conditional update of one document decides the race: only the caller whose
        // update finds `redeemed_at` unset wins (single-document writes are atomic).
        let won = codes
            .find_one_and_update(
                scoped(tenant, doc! { "code_hash": code_hash, "redeemed_at": null }),
                doc! { "$set": { "redeemed_at": date(at) } },
            )
            .await
            .map_err(unavailable)?;
        if let Some(won) = won {
            return Ok(Redemption::Redeemed(from_document(won.code)?));
        }
        let spent = codes
            .find_one(scoped(tenant, doc! { "code_hash": code_hash }))
            .await
            .map_err(unavailable)?;
        Ok(match spent {
            Some(spent) => Redemption::AlreadyUsed(from_document(spent.code)?),
            None => Redemption::Unknown,
        })
    }

    async fn record_access_token(
        &self,
        tenant: TenantId,
        t: &AccessTokenRecord,
    ) -> StoreResult<()> {
        let document = AccessTokenDoc {
            tenant_id: tenant.to_string(),
            jti: t.jti.clone(),
            client_id: t.client_id.clone(),
            user_id: t.user_id.map(|u| u.to_string()),
            scopes: t.scopes.clone(),
            code_hash: t.code_hash.clone(),
            issued_at: date(t.issued_at),
            expires_at: date(t.expires_at),
            revoked_at: t.revoked_at.map(date),
        };
        self.collection::<AccessTokenDoc>("access_tokens")
            .insert_one(document)
            .await
            .map_err(conflict("access token"))?;
        Ok(())
    }

    async fn access_token(
        &self,
        tenant: TenantId,
        jti: &str,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let found = self
            .collection::<AccessTokenDoc>("access_tokens")
            .find_one(scoped(tenant, doc! { "jti": jti }))
            .await
            .map_err(unavailable)?;
        found
            .map(|t| {
                Ok(AccessTokenRecord {
                    jti: t.jti,
                    tenant_id: parse(&t.tenant_id)?,
                    client_id: t.client_id,
                    user_id: t.user_id.map(|u| parse(&u)).transpose()?,
                    scopes: t.scopes,
                    code_hash: t.code_hash,
                    issued_at: timestamp(t.issued_at),
                    expires_at: timestamp(t.expires_at),
                    revoked_at: t.revoked_at.map(timestamp),
                })
            })
            .transpose()
    }

    async fn revoke_tokens_of_code(
        &self,
        tenant: TenantId,
        code_hash: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let done = self
            .collection::<AccessTokenDoc>("access_tokens")
            .update_many(
                scoped(tenant, doc! { "code_hash": code_hash, "revoked_at": null }),
                doc! { "$set": { "revoked_at": date(at) } },
            )
            .await
            .map_err(unavailable)?;
        Ok(done.modified_count)
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let mut purged = 0;
        for collection in ["login_flows", "authorization_codes", "access_tokens"] {
            purged += self.purge(collection, before, limit).await?;
        }
        Ok(purged)
    }
}
