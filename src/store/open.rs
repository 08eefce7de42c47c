//! Chooses and opens the backends named by the configuration.

use super::placement::{Databases, Placements};
use super::{
    mongo::MongoStore, postgres::PostgresStore, redis::RedisArtifacts, sqlite::SqliteStore, Access,
    OpenError, Store,
};
use crate::config::{ArtifactStorage, Config, StorageConfig};
use crate::crypto::EncryptionKey;
use std::{sync::Arc, time::Duration};

/// Opens the configured storage, applying pending migrations first when `migrate` is set (to
/// tenants' own databases when each is first used). `key` seals and opens the connection
/// settings of tenants' own databases. Fails before anything is served when a backend is
/// unreachable or a migration fails.
pub async fn open(
    config: &Config,
    key: &EncryptionKey,
    access: Access,
    migrate: bool,
) -> Result<Store, OpenError> {
    let (store, databases) = match &config.storage {
        StorageConfig::Sqlite { path } => {
            let (sqlite, applied) = SqliteStore::open(path, access, migrate).await?;
            report(applied);
            (
                Store::from_backend("sqlite", Arc::new(sqlite)),
                Databases::sqlite(path),
            )
        }
        StorageConfig::Postgres {
            url,
            max_connections,
            acquire_timeout_secs,
        } => {
            let postgres = PostgresStore::open(
                url.expose(),
                *max_connections,
                Duration::from_secs(*acquire_timeout_secs),
            )
            .await?;
            if migrate {
                report(postgres.migrate().await?);
            }
            let postgres = Arc::new(postgres);
            let databases = Databases::Postgres {
                main: postgres.clone(),
                url: url::Url::parse(url.expose()).map_err(|e| {
                    OpenError::Connect(
                        "the PostgreSQL database",
                        "STORAGE_POSTGRESQL_URL".into(),
                        e.to_string(),
                    )
                })?,
                timeout: Duration::from_secs(*acquire_timeout_secs),
            };
            (Store::from_backend("postgresql", postgres), databases)
        }
        StorageConfig::Mongo { uri } => {
            let mongo = MongoStore::open(uri.expose()).await?;
            if migrate {
                mongo.create_indexes().await?;
            }
            let mongo = Arc::new(mongo);
            let databases = Databases::Mongo {
                main: mongo.clone(),
            };
            (Store::from_backend("mongodb", mongo), databases)
        }
    };
    let store = Placements::wrap(
        store,
        databases,
        key.clone(),
        migrate,
        config.tenant_databases_open,
    )
    .with_caches();
    match &config.artifacts {
        ArtifactStorage::Main => Ok(store),
        ArtifactStorage::Redis { url } => {
            let redis = RedisArtifacts::open(url.expose()).await?;
            Ok(store.with_artifacts("redis", Arc::new(redis)))
        }
    }
}

fn report(applied: usize) {
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
}
