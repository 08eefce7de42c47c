//! `tower-sessions` over our storage contract. The cookie carries the session id; the store keeps
//! only its SHA-256, so a copy of the database does not yield usable cookies.

use crate::crypto::sha256_hex;
use crate::domain::{BrowserSessionRecord, Timestamp};
use crate::store::{BrowserSessionRepo, StoreError};
use async_trait::async_trait;
use std::{fmt, sync::Arc};
use tower_sessions::{
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, SessionStore},
};

#[derive(Clone)]
pub struct BrowserSessionStore {
    repo: Arc<dyn BrowserSessionRepo>,
}

impl fmt::Debug for BrowserSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserSessionStore")
    }
}

impl BrowserSessionStore {
    pub fn new(repo: Arc<dyn BrowserSessionRepo>) -> Self {
        Self { repo }
    }
}

fn backend(e: StoreError) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn to_record(record: &Record) -> session_store::Result<BrowserSessionRecord> {
    Ok(BrowserSessionRecord {
        id_hash: sha256_hex(&record.id.to_string()),
        data: serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?,
        expires_at: Timestamp::from_unix(record.expiry_date.unix_timestamp()),
    })
}

#[async_trait]
impl SessionStore for BrowserSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            match self.repo.create(&to_record(record)?).await {
                Ok(()) => return Ok(()),
                // A 128-bit id collision is practically impossible; pick another and go on.
                Err(StoreError::Conflict(_)) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.repo.save(&to_record(record)?).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(stored) = self
            .repo
            .load(&sha256_hex(&id.to_string()), Timestamp::now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&stored.data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(stored.expires_at.unix())
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.repo
            .delete(&sha256_hex(&id.to_string()))
            .await
            .map_err(backend)
    }
}
