//! Login flows, authorization codes and access-token records.

use super::{all, conflict, date, from_document, scoped, timestamp, to_document, MongoStore};
use crate::domain::{
    AccessTokenRecord, AuthorizationCode, LoginFlow, RefreshToken, TenantId, Timestamp, UserId,
};
use crate::domain::{AuditEvent, Job};
use crate::store::decode::parse;
use crate::store::{
    write_one_after_the_other, BatchRepo, Ephemeral, Issuance, OidcArtifactRepo, Redemption,
    Rotation, StoreError, StoreResult,
};
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ReturnDocument;
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
    family_id: Option<String>,
    issued_at: DateTime,
    expires_at: DateTime,
    revoked_at: Option<DateTime>,
}

#[derive(Serialize, Deserialize)]
struct RefreshDoc {
    tenant_id: String,
    token_hash: String,
    family_id: String,
    token: Document,
    expires_at: DateTime,
    rotated_at: Option<DateTime>,
    revoked_at: Option<DateTime>,
    /// The browser sign-in whose end revokes the token (none for offline access).
    bound_session_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct EphemeralDoc {
    tenant_id: String,
    kind: String,
    key: String,
    value: String,
    version: i64,
    expires_at: DateTime,
}

impl EphemeralDoc {
    fn into_ephemeral(self) -> Ephemeral {
        Ephemeral {
            value: self.value,
            version: self.version,
            expires_at: timestamp(self.expires_at),
        }
    }
}

/// A live record of `kind` and `key`: the TTL sweep runs about once a minute, so expiry is
/// checked here too.
fn live(tenant: TenantId, kind: &str, key: &str) -> Document {
    scoped(
        tenant,
        doc! { "kind": kind, "key": key, "expires_at": { "$gt": date(Timestamp::now()) } },
    )
}

impl RefreshDoc {
    /// The stored token, with the authoritative spent and revoked times from their fields.
    fn into_token(self) -> StoreResult<RefreshToken> {
        let mut token: RefreshToken = from_document(self.token)?;
        token.rotated_at = self.rotated_at.map(timestamp);
        token.revoked_at = self.revoked_at.map(timestamp);
        Ok(token)
    }
}

fn access_token_doc(tenant: TenantId, t: &AccessTokenRecord) -> AccessTokenDoc {
    AccessTokenDoc {
        tenant_id: tenant.to_string(),
        jti: t.jti.clone(),
        client_id: t.client_id.clone(),
        user_id: t.user_id.map(|u| u.to_string()),
        scopes: t.scopes.clone(),
        code_hash: t.code_hash.clone(),
        family_id: t.family_id.clone(),
        issued_at: date(t.issued_at),
        expires_at: date(t.expires_at),
        revoked_at: t.revoked_at.map(date),
    }
}

fn refresh_doc(tenant: TenantId, t: &RefreshToken) -> RefreshDoc {
    RefreshDoc {
        tenant_id: tenant.to_string(),
        token_hash: t.token_hash.clone(),
        family_id: t.family_id.clone(),
        token: to_document(t),
        expires_at: date(t.expires_at),
        rotated_at: t.rotated_at.map(date),
        revoked_at: t.revoked_at.map(date),
        bound_session_id: t.session_bound.then(|| t.session_id.clone()),
    }
}

/// Without a replica set MongoDB has no transactions over several collections: the records
/// are written first, then the audit events.
#[async_trait]
impl BatchRepo for MongoStore {
    async fn write_batch(
        &self,
        rotations: &[Rotation],
        issued: &[Issuance],
        events: &[AuditEvent],
        jobs: &[Job],
    ) -> StoreResult<Vec<Redemption<RefreshToken>>> {
        write_one_after_the_other(self, self, self, rotations, issued, events, jobs).await
    }
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
            .await?;
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
            .await?
            .map(|d| from_document(d.flow))
            .transpose()
    }

    async fn delete_flow(&self, tenant: TenantId, id: &str) -> StoreResult<()> {
        self.collection::<FlowDoc>("login_flows")
            .delete_one(scoped(tenant, doc! { "id": id }))
            .await?;
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
            .await?;
        if let Some(won) = won {
            return Ok(Redemption::Redeemed(from_document(won.code)?));
        }
        let spent = codes
            .find_one(scoped(tenant, doc! { "code_hash": code_hash }))
            .await?;
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
        self.collection::<AccessTokenDoc>("access_tokens")
            .insert_one(access_token_doc(tenant, t))
            .await
            .map_err(conflict("access token"))?;
        Ok(())
    }

    /// Two `insert_many` calls, not a transaction (Tessera runs on a standalone MongoDB too):
    /// a failure between them leaves access tokens without their refresh tokens, but the
    /// request fails, so nobody was given either.
    async fn record_issued(&self, issued: &[Issuance]) -> StoreResult<()> {
        self.collection::<AccessTokenDoc>("access_tokens")
            .insert_many(
                issued
                    .iter()
                    .map(|i| access_token_doc(i.access.tenant_id, &i.access)),
            )
            .await
            .map_err(conflict("access token"))?;
        let refresh: Vec<RefreshDoc> = issued
            .iter()
            .filter_map(|i| i.refresh.as_ref())
            .map(|t| refresh_doc(t.tenant_id, t))
            .collect();
        if !refresh.is_empty() {
            self.collection::<RefreshDoc>("refresh_tokens")
                .insert_many(refresh)
                .await
                .map_err(conflict("refresh token"))?;
        }
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
            .await?;
        found
            .map(|t| {
                Ok(AccessTokenRecord {
                    jti: t.jti,
                    tenant_id: parse(&t.tenant_id)?,
                    client_id: t.client_id,
                    user_id: t.user_id.map(|u| parse(&u)).transpose()?,
                    scopes: t.scopes,
                    code_hash: t.code_hash,
                    family_id: t.family_id,
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
            .await?;
        Ok(done.modified_count)
    }

    async fn revoke_access_token(
        &self,
        tenant: TenantId,
        jti: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<AccessTokenDoc>("access_tokens")
            .update_one(
                scoped(tenant, doc! { "jti": jti, "revoked_at": null }),
                doc! { "$set": { "revoked_at": date(at) } },
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    async fn put_refresh_token(&self, tenant: TenantId, t: &RefreshToken) -> StoreResult<()> {
        self.collection::<RefreshDoc>("refresh_tokens")
            .insert_one(refresh_doc(tenant, t))
            .await
            .map_err(conflict("refresh token"))?;
        Ok(())
    }

    async fn refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>> {
        self.collection::<RefreshDoc>("refresh_tokens")
            .find_one(scoped(tenant, doc! { "token_hash": token_hash }))
            .await?
            .map(RefreshDoc::into_token)
            .transpose()
    }

    async fn refresh_tokens(
        &self,
        tenant: TenantId,
        now: Timestamp,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RefreshToken>> {
        let filter = scoped(
            tenant,
            doc! {
                "expires_at": { "$gt": date(now) },
                "token_hash": { "$gt": after.unwrap_or_default() },
            },
        );
        let cursor = self
            .collection::<RefreshDoc>("refresh_tokens")
            .find(filter)
            .sort(doc! { "token_hash": 1 })
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(RefreshDoc::into_token)
            .collect()
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<Redemption<RefreshToken>> {
        // One conditional update of one document decides the race, as for codes.
        let won = self
            .collection::<RefreshDoc>("refresh_tokens")
            .find_one_and_update(
                scoped(
                    tenant,
                    doc! { "token_hash": token_hash, "rotated_at": null, "revoked_at": null },
                ),
                doc! { "$set": { "rotated_at": date(at) } },
            )
            .return_document(ReturnDocument::After)
            .await?;
        if let Some(won) = won {
            return Ok(Redemption::Redeemed(won.into_token()?));
        }
        Ok(match self.refresh_token(tenant, token_hash).await? {
            Some(spent) => Redemption::AlreadyUsed(spent),
            None => Redemption::Unknown,
        })
    }

    /// Two updates, each atomic per document; no transaction is needed because revocation
    /// only ever moves tokens one way (to revoked), so a partial run is finished by a retry.
    async fn revoke_refresh_family(
        &self,
        tenant: TenantId,
        family_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut revoked = 0;
        for collection in ["refresh_tokens", "access_tokens"] {
            revoked += self
                .collection::<Document>(collection)
                .update_many(
                    scoped(tenant, doc! { "family_id": family_id, "revoked_at": null }),
                    doc! { "$set": { "revoked_at": date(at) } },
                )
                .await?
                .modified_count;
        }
        Ok(revoked)
    }

    /// Like [`Self::revoke_refresh_family`]: one-way updates, safe without a transaction.
    async fn revoke_session_tokens(
        &self,
        tenant: TenantId,
        session_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let families = self
            .collection::<RefreshDoc>("refresh_tokens")
            .distinct(
                "family_id",
                scoped(tenant, doc! { "bound_session_id": session_id }),
            )
            .await?;
        if families.is_empty() {
            return Ok(0);
        }
        let mut revoked = 0;
        for collection in ["access_tokens", "refresh_tokens"] {
            revoked += self
                .collection::<Document>(collection)
                .update_many(
                    scoped(
                        tenant,
                        doc! { "family_id": { "$in": families.clone() }, "revoked_at": null },
                    ),
                    doc! { "$set": { "revoked_at": date(at) } },
                )
                .await?
                .modified_count;
        }
        Ok(revoked)
    }

    async fn revoke_grant(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        // Refresh tokens keep the token as a sub-document: its user id is in the token's own
        // encoding.
        let token_user = mongodb::bson::to_bson(&user).expect("an id serialises");
        let mut revoked = 0;
        for (collection, filter) in [
            (
                "access_tokens",
                doc! { "user_id": user.to_string(), "client_id": client_id, "revoked_at": null },
            ),
            (
                "refresh_tokens",
                doc! { "token.user_id": token_user, "token.client_id": client_id, "revoked_at": null },
            ),
        ] {
            revoked += self
                .collection::<Document>(collection)
                .update_many(
                    scoped(tenant, filter),
                    doc! { "$set": { "revoked_at": date(at) } },
                )
                .await?
                .modified_count;
        }
        Ok(revoked)
    }

    async fn put_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        value: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        // Replaces an expired record (the TTL sweep may not have run yet); a live one is not
        // matched, so the upsert's insert meets the unique index: `Conflict`.
        let expired = scoped(
            tenant,
            doc! { "kind": kind, "key": key, "expires_at": { "$lte": date(Timestamp::now()) } },
        );
        self.collection::<EphemeralDoc>("ephemeral")
            .update_one(
                expired,
                doc! { "$set": { "value": value, "version": 1_i64, "expires_at": date(expires_at) } },
            )
            .upsert(true)
            .await
            .map_err(conflict("record"))?;
        Ok(())
    }

    async fn get_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        Ok(self
            .collection::<EphemeralDoc>("ephemeral")
            .find_one(live(tenant, kind, key))
            .await?
            .map(EphemeralDoc::into_ephemeral))
    }

    async fn take_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
    ) -> StoreResult<Option<Ephemeral>> {
        Ok(self
            .collection::<EphemeralDoc>("ephemeral")
            .find_one_and_delete(live(tenant, kind, key))
            .await?
            .map(EphemeralDoc::into_ephemeral))
    }

    async fn swap_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        version: i64,
        value: &str,
    ) -> StoreResult<bool> {
        let mut filter = live(tenant, kind, key);
        filter.insert("version", version);
        let done = self
            .collection::<EphemeralDoc>("ephemeral")
            .update_one(
                filter,
                doc! { "$set": { "value": value }, "$inc": { "version": 1_i64 } },
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    async fn remove_ephemeral_if(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        value: &str,
    ) -> StoreResult<bool> {
        let done = self
            .collection::<EphemeralDoc>("ephemeral")
            .delete_one(scoped(
                tenant,
                doc! { "kind": kind, "key": key, "value": value },
            ))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn count_ephemeral(
        &self,
        tenant: TenantId,
        kind: &str,
        key: &str,
        expires_at: Timestamp,
    ) -> StoreResult<i64> {
        let records = self.collection::<EphemeralDoc>("ephemeral");
        // A live record counts up; otherwise the count starts again at 1. When two callers
        // start it at once, the loser's insert meets the unique index and it counts up instead.
        for _ in 0..3 {
            let counted = records
                .find_one_and_update(
                    live(tenant, kind, key),
                    doc! { "$inc": { "version": 1_i64 }, "$set": { "expires_at": date(expires_at) } },
                )
                .return_document(ReturnDocument::After)
                .await?;
            if let Some(record) = counted {
                return Ok(record.version);
            }
            match self.put_ephemeral(tenant, kind, key, "", expires_at).await {
                Ok(()) => return Ok(1),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "a counter kept changing under concurrent updates".into(),
        ))
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let mut purged = 0;
        for collection in [
            "login_flows",
            "authorization_codes",
            "access_tokens",
            "refresh_tokens",
            "ephemeral",
        ] {
            purged += self.purge(collection, before, limit).await?;
        }
        Ok(purged)
    }
}
