//! The console overview's figures, counted by aggregation pipelines in the database.

use super::{date, scoped, unavailable, MongoStore};
use crate::domain::insights::{ClientUse, DaySignIns, People};
use crate::domain::{TenantId, Timestamp};
use crate::store::{InsightsRepo, StoreError, StoreResult};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};

const DAY_MILLIS: i64 = 86_400_000;

/// A count or day number of an aggregation's result, which the server may give as any number
/// type.
fn number(result: &Document, field: &str) -> StoreResult<i64> {
    match result.get(field) {
        Some(Bson::Int32(n)) => Ok(i64::from(*n)),
        Some(Bson::Int64(n)) => Ok(*n),
        Some(Bson::Double(n)) if n.is_finite() => Ok(*n as i64),
        other => Err(StoreError::Corrupt(format!(
            "insights: {field} is {other:?}, not a number"
        ))),
    }
}

fn count(result: &Document, field: &str) -> StoreResult<u64> {
    Ok(number(result, field)?.max(0) as u64)
}

impl MongoStore {
    async fn aggregate(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> StoreResult<Vec<Document>> {
        self.collection::<Document>(collection)
            .aggregate(pipeline)
            .await?
            .try_collect()
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl InsightsRepo for MongoStore {
    async fn sign_ins_per_day(
        &self,
        tenant: TenantId,
        since: Timestamp,
    ) -> StoreResult<Vec<DaySignIns>> {
        let succeeded = doc! { "$eq": ["$action", "login.succeeded"] };
        let days = self
            .aggregate(
                "audit_events",
                vec![
                    doc! { "$match": scoped(tenant, doc! {
                        "at": { "$gte": date(since) },
                        "$or": [
                            { "action": "login.succeeded" },
                            { "action": { "$in": ["login.password", "login.second_factor"] }, "outcome": "failure" },
                        ],
                    }) },
                    doc! { "$group": {
                        "_id": { "$floor": { "$divide": [{ "$toLong": "$at" }, DAY_MILLIS] } },
                        "succeeded": { "$sum": { "$cond": [succeeded.clone(), 1, 0] } },
                        "failed": { "$sum": { "$cond": [succeeded, 0, 1] } },
                    } },
                    doc! { "$sort": { "_id": 1 } },
                ],
            )
            .await?;
        days.iter()
            .map(|d| {
                Ok(DaySignIns {
                    day: number(d, "_id")?,
                    succeeded: count(d, "succeeded")?,
                    failed: count(d, "failed")?,
                    date: String::new(),
                })
            })
            .collect()
    }

    async fn busiest_clients(
        &self,
        tenant: TenantId,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClientUse>> {
        let clients = self
            .aggregate(
                "audit_events",
                vec![
                    doc! { "$match": scoped(tenant, doc! {
                        "action": "token.issued",
                        "at": { "$gte": date(since) },
                        "actor": { "$regex": "^client:" },
                    }) },
                    doc! { "$group": { "_id": "$actor", "tokens": { "$sum": 1 } } },
                    doc! { "$sort": { "tokens": -1, "_id": 1 } },
                    doc! { "$limit": i64::from(limit) },
                ],
            )
            .await?;
        clients
            .iter()
            .map(|c| {
                let actor = c
                    .get_str("_id")
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(ClientUse {
                    client_id: actor.trim_start_matches("client:").to_owned(),
                    name: String::new(),
                    tokens: count(c, "tokens")?,
                })
            })
            .collect()
    }

    async fn people(&self, tenant: TenantId, active_since: Timestamp) -> StoreResult<People> {
        let users = self.collection::<Document>("users");
        let total = users.count_documents(scoped(tenant, doc! {})).await?;
        let active = users
            .count_documents(scoped(
                tenant,
                doc! { "last_login_at": { "$gte": date(active_since) } },
            ))
            .await?;
        let second_factors = doc! { "kind": { "$ne": "backup_codes" } };
        let kinds = self
            .aggregate(
                "factors",
                vec![
                    doc! { "$match": scoped(tenant, second_factors.clone()) },
                    doc! { "$group": { "_id": { "kind": "$kind", "user_id": "$user_id" } } },
                    doc! { "$group": { "_id": "$_id.kind", "people": { "$sum": 1 } } },
                    doc! { "$sort": { "_id": 1 } },
                ],
            )
            .await?;
        let anyone = self
            .aggregate(
                "factors",
                vec![
                    doc! { "$match": scoped(tenant, second_factors) },
                    doc! { "$group": { "_id": "$user_id" } },
                    doc! { "$group": { "_id": null, "people": { "$sum": 1 } } },
                ],
            )
            .await?;
        let with_second_factor = match anyone.first() {
            Some(result) => count(result, "people")?,
            None => 0,
        };
        Ok(People {
            total,
            active,
            with_second_factor,
            by_kind: kinds
                .iter()
                .map(|k| {
                    let kind = k
                        .get_str("_id")
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    Ok((kind.to_owned(), count(k, "people")?))
                })
                .collect::<StoreResult<_>>()?,
        })
    }
}
