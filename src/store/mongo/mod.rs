//! MongoDB: one collection per aggregate, `tenant_id` in every tenant-scoped document and in
//! every filter on it ([`scoped`]), unique compound indexes, and TTL indexes that let the
//! server drop what has expired. Several Tessera processes may share one database.
//!
//! Changes that must be atomic are single-document operations, so they need no transactions
//! (and work on a standalone server as well as on a replica set): a user's roles live in the
//! user's document; redeeming a code is one conditional `findOneAndUpdate`.

mod access;
mod api_keys;
mod artifacts;
mod connections;
mod factors;
mod identity;
mod initial_tokens;
mod insights;
mod jobs;
mod records;
mod webhooks;

use super::{OpenError, Ping, StoreError, StoreResult, ARTIFACT_RETENTION_SECS};
use crate::domain::{TenantId, Timestamp};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, DateTime, Document},
    error::{ErrorKind, WriteFailure},
    options::{ClientOptions, IndexOptions},
    Client, Collection, Database, IndexModel,
};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

pub struct MongoStore {
    db: Database,
}

const DEFAULT_DATABASE: &str = "tessera";

impl MongoStore {
    /// Connects to the database named in the URI (`tessera` when it names none) and checks that
    /// the server answers.
    pub async fn open(uri: &str) -> Result<Self, OpenError> {
        let mut options = ClientOptions::parse(uri).await.map_err(|e| {
            OpenError::Connect("MongoDB", "STORAGE_MONGODB_URI".into(), e.to_string())
        })?;
        let place = options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        options.app_name = Some("tessera".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        options.connect_timeout = Some(Duration::from_secs(5));
        let database = options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let client = Client::with_options(options)
            .map_err(|e| OpenError::Connect("MongoDB", place.clone(), e.to_string()))?;
        let store = Self {
            db: client.database(&database),
        };
        if let Err(e) = store.db.run_command(doc! { "ping": 1 }).await {
            let why = match e.kind.as_ref() {
                ErrorKind::ServerSelection { .. } => {
                    "no server answered within 5 seconds".to_string()
                }
                _ => e.to_string(),
            };
            return Err(OpenError::Connect("MongoDB", place, why));
        }
        Ok(store)
    }

    /// The database `name` on the same deployment, through the same connections: a tenant's
    /// own database.
    pub(crate) fn sibling(&self, name: &str) -> Self {
        Self {
            db: self.db.client().database(name),
        }
    }

    pub(crate) fn database_name(&self) -> &str {
        self.db.name()
    }

    /// Drops this store's database with everything in it.
    pub(crate) async fn drop_database(&self) -> StoreResult<()> {
        Ok(self.db.drop().await?)
    }

    /// Creates the collections' indexes (a no-op for those that exist): MongoDB's migrations.
    pub async fn create_indexes(&self) -> Result<(), OpenError> {
        let unique = |keys: Document| index(keys, |o| o.unique = Some(true));
        let expiring = |after_secs: u64| {
            index(doc! { "expires_at": 1 }, move |o| {
                o.expire_after = Some(Duration::from_secs(after_secs))
            })
        };
        let retention = ARTIFACT_RETENTION_SECS as u64;
        let plan: [(&str, Vec<IndexModel>); 25] = [
            (
                "tenants",
                vec![unique(doc! { "id": 1 }), unique(doc! { "slug": 1 })],
            ),
            (
                "users",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "email": 1 }),
                    index(doc! { "tenant_id": 1, "roles": 1 }, |_| {}),
                ],
            ),
            (
                "roles",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    // Names are unique ignoring case: `name_key` is the lower-cased name.
                    unique(doc! { "tenant_id": 1, "name_key": 1 }),
                ],
            ),
            (
                "teams",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "name_key": 1 }),
                    index(doc! { "tenant_id": 1, "roles": 1 }, |_| {}),
                ],
            ),
            (
                "team_members",
                vec![
                    unique(doc! { "tenant_id": 1, "team_id": 1, "user_id": 1 }),
                    index(doc! { "tenant_id": 1, "user_id": 1 }, |_| {}),
                ],
            ),
            (
                "clients",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "client_id": 1 }),
                ],
            ),
            (
                "user_sessions",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    index(doc! { "tenant_id": 1, "user_id": 1 }, |_| {}),
                    expiring(0),
                ],
            ),
            (
                "consents",
                vec![unique(
                    doc! { "tenant_id": 1, "user_id": 1, "client_id": 1 },
                )],
            ),
            (
                "api_keys",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "hash": 1 }),
                ],
            ),
            (
                "initial_access_tokens",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "hash": 1 }),
                ],
            ),
            (
                "connections",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    unique(doc! { "tenant_id": 1, "slug": 1 }),
                ],
            ),
            (
                "linked_identities",
                vec![
                    unique(doc! { "tenant_id": 1, "connection_id": 1, "subject": 1 }),
                    index(
                        doc! { "tenant_id": 1, "user_id": 1, "created_at": 1 },
                        |_| {},
                    ),
                ],
            ),
            (
                "webhook_endpoints",
                vec![unique(doc! { "tenant_id": 1, "id": 1 })],
            ),
            (
                "webhook_deliveries",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    // An endpoint's log, newest first.
                    index(
                        doc! { "tenant_id": 1, "endpoint_id": 1, "at": -1, "id": -1 },
                        |_| {},
                    ),
                    // The retention purge looks at every tenant's old attempts.
                    index(doc! { "at": 1 }, |_| {}),
                ],
            ),
            (
                "factors",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    index(
                        doc! { "tenant_id": 1, "user_id": 1, "created_at": 1 },
                        |_| {},
                    ),
                ],
            ),
            (
                "signing_keys",
                vec![
                    unique(doc! { "tenant_id": 1, "kid": 1 }),
                    // One active and at most one next key per algorithm: processes creating or
                    // rotating keys at the same moment cannot both win.
                    index(doc! { "tenant_id": 1, "alg": 1 }, |o| {
                        o.name = Some("one_active_key".into());
                        o.unique = Some(true);
                        o.partial_filter_expression = Some(doc! { "state": "active" });
                    }),
                    index(doc! { "tenant_id": 1, "alg": 1 }, |o| {
                        o.name = Some("one_next_key".into());
                        o.unique = Some(true);
                        o.partial_filter_expression = Some(doc! { "state": "next" });
                    }),
                ],
            ),
            (
                "audit_events",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    index(doc! { "tenant_id": 1, "at": -1, "id": -1 }, |_| {}),
                    index(doc! { "tenant_id": 1, "actor": 1, "at": -1 }, |_| {}),
                    index(doc! { "tenant_id": 1, "target": 1, "at": -1 }, |_| {}),
                    // The console overview's counts of sign-ins per day and tokens per client.
                    index(doc! { "tenant_id": 1, "action": 1, "at": 1 }, |_| {}),
                    // The retention purge looks at every tenant's old events.
                    index(doc! { "at": 1 }, |_| {}),
                ],
            ),
            (
                "login_flows",
                vec![unique(doc! { "tenant_id": 1, "id": 1 }), expiring(0)],
            ),
            (
                "authorization_codes",
                vec![
                    unique(doc! { "tenant_id": 1, "code_hash": 1 }),
                    expiring(retention),
                ],
            ),
            (
                "access_tokens",
                vec![
                    unique(doc! { "tenant_id": 1, "jti": 1 }),
                    index(doc! { "tenant_id": 1, "code_hash": 1 }, |_| {}),
                    index(doc! { "tenant_id": 1, "family_id": 1 }, |_| {}),
                    index(
                        doc! { "tenant_id": 1, "user_id": 1, "client_id": 1 },
                        |_| {},
                    ),
                    expiring(retention),
                ],
            ),
            (
                "refresh_tokens",
                vec![
                    unique(doc! { "tenant_id": 1, "token_hash": 1 }),
                    index(doc! { "tenant_id": 1, "family_id": 1 }, |_| {}),
                    index(doc! { "tenant_id": 1, "bound_session_id": 1 }, |_| {}),
                    index(
                        doc! { "tenant_id": 1, "token.user_id": 1, "token.client_id": 1 },
                        |_| {},
                    ),
                    expiring(retention),
                ],
            ),
            (
                "ephemeral",
                vec![
                    unique(doc! { "tenant_id": 1, "kind": 1, "key": 1 }),
                    expiring(0),
                ],
            ),
            (
                "jobs",
                vec![
                    unique(doc! { "tenant_id": 1, "id": 1 }),
                    index(doc! { "run_at": 1 }, |_| {}),
                ],
            ),
            ("job_turns", vec![unique(doc! { "name": 1 })]),
            (
                "browser_sessions",
                vec![unique(doc! { "id_hash": 1 }), expiring(0)],
            ),
        ];
        for (collection, indexes) in plan {
            self.db
                .collection::<Document>(collection)
                .create_indexes(indexes)
                .await
                .map_err(|e| OpenError::Migrate(format!("indexes of {collection}: {e}")))?;
        }
        Ok(())
    }

    /// Deletes every document of `tenant` from each tenant-scoped collection.
    async fn delete_tenant_documents(&self, tenant: TenantId) -> StoreResult<()> {
        for collection in TENANT_COLLECTIONS {
            self.collection::<Document>(collection)
                .delete_many(scoped(tenant, doc! {}))
                .await?;
        }
        Ok(())
    }

    /// Whether `collection` holds a document matching `filter`.
    async fn exists(&self, collection: &str, filter: Document) -> StoreResult<bool> {
        Ok(self
            .collection::<Document>(collection)
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await?
            .is_some())
    }

    /// The text `field` of every document of `collection` matching `filter`, in `sort` order.
    async fn strings(
        &self,
        collection: &str,
        filter: Document,
        field: &str,
        sort: Document,
    ) -> StoreResult<Vec<String>> {
        let cursor = self
            .collection::<Document>(collection)
            .find(filter)
            .projection(doc! { "_id": 0, field: 1 })
            .sort(sort)
            .await?;
        all(cursor)
            .await?
            .iter()
            .map(|d| {
                d.get_str(field)
                    .map(str::to_owned)
                    .map_err(|e| StoreError::Corrupt(format!("{collection}.{field}: {e}")))
            })
            .collect()
    }

    fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.db.collection(name)
    }

    /// Deletes at most `limit` documents of `collection` that expired before `before`.
    async fn purge(&self, collection: &str, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.purge_where(collection, "expires_at", before, limit)
            .await
    }

    /// Deletes at most `limit` documents of `collection` whose time `field` is before `before`.
    async fn purge_where(
        &self,
        collection: &str,
        field: &str,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        let expired: Vec<Document> = self
            .collection::<Document>(collection)
            .find(doc! { field: { "$lt": date(before) } })
            .projection(doc! { "_id": 1 })
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let ids: Vec<_> = expired
            .iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        let done = self
            .collection::<Document>(collection)
            .delete_many(doc! { "_id": { "$in": ids } })
            .await?;
        Ok(done.deleted_count)
    }
}

#[async_trait]
impl Ping for MongoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

/// Every collection whose documents belong to a tenant (carry `tenant_id`).
const TENANT_COLLECTIONS: [&str; 22] = [
    "users",
    "api_keys",
    "initial_access_tokens",
    "connections",
    "linked_identities",
    "webhook_endpoints",
    "webhook_deliveries",
    "roles",
    "teams",
    "team_members",
    "clients",
    "user_sessions",
    "consents",
    "factors",
    "signing_keys",
    "audit_events",
    "login_flows",
    "authorization_codes",
    "access_tokens",
    "refresh_tokens",
    "ephemeral",
    "jobs",
];

fn index(keys: Document, set: impl FnOnce(&mut IndexOptions)) -> IndexModel {
    let mut options = IndexOptions::default();
    set(&mut options);
    IndexModel::builder().keys(keys).options(options).build()
}

/// A filter on the documents of one tenant; every tenant-scoped query starts here.
fn scoped(tenant: TenantId, mut rest: Document) -> Document {
    rest.insert("tenant_id", tenant.to_string());
    rest
}

/// Every document of a query, decoded.
async fn all<T>(cursor: mongodb::Cursor<T>) -> StoreResult<Vec<T>>
where
    T: DeserializeOwned + Send + Sync + Unpin,
{
    cursor.try_collect().await.map_err(unavailable)
}

fn date(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.unix().saturating_mul(1000))
}

fn timestamp(d: DateTime) -> Timestamp {
    Timestamp::from_unix(d.timestamp_millis().div_euclid(1000))
}

fn unavailable(e: mongodb::error::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Any driver error the calls do not map themselves means the database could not answer.
impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        unavailable(e)
    }
}

/// Maps a duplicate-key error (code 11000) to `Conflict(what)`, anything else to `Unavailable`.
fn conflict(what: &'static str) -> impl Fn(mongodb::error::Error) -> StoreError {
    move |e| {
        let duplicate = match e.kind.as_ref() {
            ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
            ErrorKind::Command(c) => c.code == 11000,
            _ => false,
        };
        if duplicate {
            StoreError::Conflict(what)
        } else {
            unavailable(e)
        }
    }
}

/// `text` as a regular expression that matches it literally.
fn literal_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/#".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A value stored as a BSON document of its own, such as a login flow.
fn to_document<T: Serialize>(value: &T) -> Document {
    mongodb::bson::to_document(value).expect("plain data serialises")
}

fn from_document<T: DeserializeOwned>(document: Document) -> StoreResult<T> {
    mongodb::bson::from_document(document).map_err(|e| StoreError::Corrupt(e.to_string()))
}
