//! Sessions, consents, signing keys, audit events and browser sessions.

use super::{all, conflict, date, literal_regex, scoped, timestamp, unavailable, MongoStore};
use crate::domain::SigningAlg;
use crate::domain::{
    AuditEvent, BrowserSessionRecord, Consent, SigningKey, TenantId, Timestamp, UserId, UserSession,
};
use crate::store::decode::{self, parse};
use crate::store::{
    action_filter, AuditQuery, AuditRepo, BrowserSessionRepo, ConsentRepo, SessionRepo,
    SigningKeyRepo, StoreResult,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, spec::BinarySubtype, Binary, DateTime, Document};
use mongodb::options::Hint;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
struct SessionDoc {
    tenant_id: String,
    id: String,
    user_id: String,
    auth_time: DateTime,
    amr: Vec<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime,
    last_seen_at: DateTime,
    expires_at: DateTime,
    revoked_at: Option<DateTime>,
}

impl SessionDoc {
    fn into_session(self) -> StoreResult<UserSession> {
        Ok(UserSession {
            id: self.id,
            tenant_id: parse(&self.tenant_id)?,
            user_id: parse(&self.user_id)?,
            auth_time: timestamp(self.auth_time),
            amr: self.amr,
            ip: self.ip,
            user_agent: self.user_agent,
            created_at: timestamp(self.created_at),
            last_seen_at: timestamp(self.last_seen_at),
            expires_at: timestamp(self.expires_at),
            revoked_at: self.revoked_at.map(timestamp),
        })
    }
}

#[async_trait]
impl SessionRepo for MongoStore {
    async fn create(&self, tenant: TenantId, s: &UserSession) -> StoreResult<()> {
        let document = SessionDoc {
            tenant_id: tenant.to_string(),
            id: s.id.clone(),
            user_id: s.user_id.to_string(),
            auth_time: date(s.auth_time),
            amr: s.amr.clone(),
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            created_at: date(s.created_at),
            last_seen_at: date(s.last_seen_at),
            expires_at: date(s.expires_at),
            revoked_at: s.revoked_at.map(date),
        };
        self.collection::<SessionDoc>("user_sessions")
            .insert_one(document)
            .await
            .map_err(conflict("session"))?;
        Ok(())
    }

    async fn get(&self, tenant: TenantId, id: &str) -> StoreResult<Option<UserSession>> {
        self.collection::<SessionDoc>("user_sessions")
            .find_one(scoped(tenant, doc! { "id": id }))
            .await?
            .map(SessionDoc::into_session)
            .transpose()
    }

    async fn touch(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()> {
        self.collection::<SessionDoc>("user_sessions")
            .update_one(
                scoped(
                    tenant,
                    doc! { "id": id, "last_seen_at": { "$lt": date(at) } },
                ),
                doc! { "$set": { "last_seen_at": date(at) } },
            )
            .await?;
        Ok(())
    }

    async fn revoke(&self, tenant: TenantId, id: &str, at: Timestamp) -> StoreResult<()> {
        self.collection::<SessionDoc>("user_sessions")
            .update_one(
                scoped(tenant, doc! { "id": id, "revoked_at": null }),
                doc! { "$set": { "revoked_at": date(at) } },
            )
            .await?;
        Ok(())
    }

    async fn of_user(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<UserSession>> {
        let cursor = self
            .collection::<SessionDoc>("user_sessions")
            .find(scoped(
                tenant,
                doc! {
                    "user_id": user.to_string(),
                    "revoked_at": null,
                    "expires_at": { "$gt": date(now) },
                },
            ))
            .sort(doc! { "created_at": -1, "id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(SessionDoc::into_session)
            .collect()
    }

    async fn revoke_all(
        &self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let active = doc! { "user_id": user.to_string(), "revoked_at": null };
        let cursor = self
            .collection::<SessionDoc>("user_sessions")
            .find(scoped(tenant, active.clone()))
            .await?;
        let ids: Vec<String> = all(cursor).await?.into_iter().map(|s| s.id).collect();
        let mut filter = scoped(tenant, active);
        filter.insert("id", doc! { "$in": &ids });
        self.collection::<SessionDoc>("user_sessions")
            .update_many(filter, doc! { "$set": { "revoked_at": date(at) } })
            .await?;
        Ok(ids)
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge("user_sessions", before, limit).await
    }
}

#[derive(Serialize, Deserialize)]
struct ConsentDoc {
    tenant_id: String,
    user_id: String,
    client_id: String,
    scopes: Vec<String>,
    granted_at: DateTime,
}

impl ConsentDoc {
    fn into_consent(self) -> StoreResult<Consent> {
        Ok(Consent {
            tenant_id: parse(&self.tenant_id)?,
            user_id: parse(&self.user_id)?,
            client_id: self.client_id,
            scopes: self.scopes,
            granted_at: timestamp(self.granted_at),
        })
    }
}

#[async_trait]
impl ConsentRepo for MongoStore {
    async fn get(
        &self,
        tenant: TenantId,
        user: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Consent>> {
        let found = self
            .collection::<ConsentDoc>("consents")
            .find_one(scoped(
                tenant,
                doc! { "user_id": user.to_string(), "client_id": client_id },
            ))
            .await?;
        found.map(ConsentDoc::into_consent).transpose()
    }

    async fn of_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<Consent>> {
        let cursor = self
            .collection::<ConsentDoc>("consents")
            .find(scoped(tenant, doc! { "user_id": user.to_string() }))
            .sort(doc! { "client_id": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(ConsentDoc::into_consent)
            .collect()
    }

    async fn revoke(&self, tenant: TenantId, user: UserId, client_id: &str) -> StoreResult<bool> {
        let done = self
            .collection::<ConsentDoc>("consents")
            .delete_one(scoped(
                tenant,
                doc! { "user_id": user.to_string(), "client_id": client_id },
            ))
            .await?;
        Ok(done.deleted_count == 1)
    }

    async fn upsert(&self, tenant: TenantId, c: &Consent) -> StoreResult<()> {
        let document = ConsentDoc {
            tenant_id: tenant.to_string(),
            user_id: c.user_id.to_string(),
            client_id: c.client_id.clone(),
            scopes: c.scopes.clone(),
            granted_at: date(c.granted_at),
        };
        self.collection::<ConsentDoc>("consents")
            .replace_one(
                scoped(
                    tenant,
                    doc! { "user_id": c.user_id.to_string(), "client_id": &c.client_id },
                ),
                document,
            )
            .upsert(true)
            .await?;
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct SigningKeyDoc {
    tenant_id: String,
    kid: String,
    alg: String,
    public_jwk: String,
    private_key_sealed: Binary,
    state: String,
    created_at: DateTime,
    activates_at: DateTime,
    retires_at: Option<DateTime>,
}

#[async_trait]
impl SigningKeyRepo for MongoStore {
    async fn insert(&self, tenant: TenantId, k: &SigningKey) -> StoreResult<()> {
        let document = SigningKeyDoc {
            tenant_id: tenant.to_string(),
            kid: k.kid.clone(),
            alg: k.alg.as_str().into(),
            public_jwk: k.public_jwk.clone(),
            private_key_sealed: Binary {
                subtype: BinarySubtype::Generic,
                bytes: k.private_key_sealed.clone(),
            },
            state: k.state.as_str().into(),
            created_at: date(k.created_at),
            activates_at: date(k.activates_at),
            retires_at: k.retires_at.map(date),
        };
        self.collection::<SigningKeyDoc>("signing_keys")
            .insert_one(document)
            .await
            .map_err(conflict("signing key"))?;
        Ok(())
    }

    async fn list(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
        let cursor = self
            .collection::<SigningKeyDoc>("signing_keys")
            .find(scoped(tenant, doc! {}))
            .sort(doc! { "created_at": -1, "kid": 1 })
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(|k| {
                Ok(SigningKey {
                    tenant_id: parse(&k.tenant_id)?,
                    kid: k.kid,
                    alg: decode::signing_alg(&k.alg)?,
                    public_jwk: k.public_jwk,
                    private_key_sealed: k.private_key_sealed.bytes,
                    state: decode::key_state(&k.state)?,
                    created_at: timestamp(k.created_at),
                    activates_at: timestamp(k.activates_at),
                    retires_at: k.retires_at.map(timestamp),
                })
            })
            .collect()
    }

    /// Two single-document steps, safe without a transaction: the active key is retired only
    /// while `kid` is still the next key, and only `kid` itself can then become active (the
    /// unique index on active keys refuses a second). A reader between the steps finds no
    /// active key but the next one, and promotes that same key.
    async fn promote(
        &self,
        tenant: TenantId,
        alg: SigningAlg,
        kid: &str,
        retire_until: Timestamp,
    ) -> StoreResult<bool> {
        let keys = self.collection::<SigningKeyDoc>("signing_keys");
        let next = scoped(tenant, doc! { "kid": kid, "state": "next" });
        if keys.find_one(next.clone()).await?.is_none() {
            return Ok(false);
        }
        keys.update_many(
            scoped(
                tenant,
                doc! { "alg": alg.as_str(), "state": "active", "kid": { "$ne": kid } },
            ),
            doc! { "$set": { "state": "retired", "retires_at": date(retire_until) } },
        )
        .await?;
        let done = keys
            .update_one(next, doc! { "$set": { "state": "active" } })
            .await
            .map_err(conflict("active signing key"))?;
        Ok(done.modified_count == 1)
    }

    async fn purge_retired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge_where("signing_keys", "retires_at", before, limit)
            .await
    }

    async fn due_for_rotation(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, SigningAlg)>> {
        let keys = self.collection::<SigningKeyDoc>("signing_keys");
        // Successors exist only while a rotation is under way: a handful.
        let successors: Vec<(String, String)> = all(keys.find(doc! { "state": "next" }).await?)
            .await?
            .into_iter()
            .map(|k| (k.tenant_id, k.alg))
            .collect();
        let mut due = Vec::new();
        let mut active = keys
            .find(doc! { "state": "active", "activates_at": { "$lte": date(before) } })
            .sort(doc! { "activates_at": 1, "tenant_id": 1 })
            .await?;
        while due.len() < limit as usize {
            let Some(key) = active.try_next().await.map_err(unavailable)? else {
                break;
            };
            if successors
                .iter()
                .any(|(t, a)| *t == key.tenant_id && *a == key.alg)
            {
                continue;
            }
            due.push((parse(&key.tenant_id)?, decode::signing_alg(&key.alg)?));
        }
        Ok(due)
    }
}

#[derive(Serialize, Deserialize)]
struct AuditDoc {
    tenant_id: String,
    id: String,
    at: DateTime,
    action: String,
    outcome: String,
    actor: String,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
}

fn audit_doc(e: &AuditEvent) -> AuditDoc {
    AuditDoc {
        tenant_id: e.tenant_id.to_string(),
        id: e.id.to_string(),
        at: date(e.at),
        action: e.action.clone(),
        outcome: e.outcome.as_str().into(),
        actor: e.actor.clone(),
        target: e.target.clone(),
        ip: e.ip.clone(),
        user_agent: e.user_agent.clone(),
        reason: e.reason.clone(),
        request_id: e.request_id.clone(),
    }
}

#[async_trait]
impl AuditRepo for MongoStore {
    async fn append(&self, e: &AuditEvent) -> StoreResult<()> {
        self.collection::<AuditDoc>("audit_events")
            .insert_one(audit_doc(e))
            .await?;
        Ok(())
    }

    async fn append_all(&self, events: &[AuditEvent]) -> StoreResult<()> {
        // The driver refuses an empty `insert_many`.
        if events.is_empty() {
            return Ok(());
        }
        self.collection::<AuditDoc>("audit_events")
            .insert_many(events.iter().map(audit_doc))
            .await?;
        Ok(())
    }

    async fn recent(
        &self,
        tenant: TenantId,
        actor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let query = AuditQuery {
            actor: actor.map(str::to_owned),
            ..AuditQuery::default()
        };
        self.search(tenant, &query, None, limit).await
    }

    async fn search(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        // Ids are UUIDv7 in their canonical text form, so text order is recording order.
        let mut filter = scoped(tenant, doc! {});
        if let Some(before) = before {
            filter.insert("id", doc! { "$lt": before.to_string() });
        }
        if let Some(actor) = &query.actor {
            filter.insert("actor", actor);
        }
        if let Some(target) = &query.target {
            filter.insert("target", target);
        }
        match action_filter(query) {
            (Some(prefix), true) => {
                filter.insert(
                    "action",
                    doc! { "$regex": format!("^{}", literal_regex(prefix)) },
                );
            }
            (Some(action), false) => {
                filter.insert("action", action);
            }
            (None, _) => {}
        }
        if let Some(outcome) = query.outcome {
            filter.insert("outcome", outcome.as_str());
        }
        let mut at = Document::new();
        if let Some(from) = query.from {
            at.insert("$gte", date(from));
        }
        if let Some(until) = query.until {
            at.insert("$lt", date(until));
        }
        if !at.is_empty() {
            filter.insert("at", at);
        }
        // Newest first by id: walking the (tenant_id, id) index backwards needs no in-memory
        // sort, and the page ends after `limit` matches. (The hint also keeps SecantusDB off
        // the (tenant_id, at -1, id -1) index, whose range bounds it gets wrong: `$gte`
        // behaves as `$gt` there.)
        let cursor = self
            .collection::<AuditDoc>("audit_events")
            .find(filter)
            .sort(doc! { "id": -1 })
            .hint(Hint::Keys(doc! { "tenant_id": 1, "id": 1 }))
            .limit(i64::from(limit))
            .await?;
        all(cursor)
            .await?
            .into_iter()
            .map(|e| {
                Ok(AuditEvent {
                    id: parse(&e.id)?,
                    tenant_id: parse(&e.tenant_id)?,
                    at: timestamp(e.at),
                    action: e.action,
                    outcome: decode::outcome(&e.outcome)?,
                    actor: e.actor,
                    target: e.target,
                    ip: e.ip,
                    user_agent: e.user_agent,
                    reason: e.reason,
                    request_id: e.request_id,
                })
            })
            .collect()
    }

    async fn purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge_where("audit_events", "at", before, limit).await
    }
}

#[derive(Serialize, Deserialize)]
struct BrowserSessionDoc {
    id_hash: String,
    data: String,
    expires_at: DateTime,
}

impl BrowserSessionDoc {
    fn new(r: &BrowserSessionRecord) -> Self {
        Self {
            id_hash: r.id_hash.clone(),
            data: r.data.clone(),
            expires_at: date(r.expires_at),
        }
    }
}

#[async_trait]
impl BrowserSessionRepo for MongoStore {
    async fn create(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        self.collection::<BrowserSessionDoc>("browser_sessions")
            .insert_one(BrowserSessionDoc::new(r))
            .await
            .map_err(conflict("browser session"))?;
        Ok(())
    }

    async fn save(&self, r: &BrowserSessionRecord) -> StoreResult<()> {
        self.collection::<BrowserSessionDoc>("browser_sessions")
            .replace_one(doc! { "id_hash": &r.id_hash }, BrowserSessionDoc::new(r))
            .upsert(true)
            .await?;
        Ok(())
    }

    async fn load(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<BrowserSessionRecord>> {
        let found = self
            .collection::<BrowserSessionDoc>("browser_sessions")
            .find_one(doc! { "id_hash": id_hash, "expires_at": { "$gt": date(now) } })
            .await?;
        Ok(found.map(|d| BrowserSessionRecord {
            id_hash: d.id_hash,
            data: d.data,
            expires_at: timestamp(d.expires_at),
        }))
    }

    async fn delete(&self, id_hash: &str) -> StoreResult<()> {
        self.collection::<BrowserSessionDoc>("browser_sessions")
            .delete_one(doc! { "id_hash": id_hash })
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge("browser_sessions", before, limit).await
    }
}
