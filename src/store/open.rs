//! Chooses and opens the backends named by the configuration.

use super::{
    mongo::MongoStore, postgres::PostgresStore, redis::RedisArtifacts, sqlite::SqliteStore, Access,
    OpenError, Store,
};
use crate::config::{ArtifactStorage, Config, StorageConfig};
use std::{sync::Arc, time::Duration};

/// Opens the configured storage, applying pending migrations first when `migrate` is set.
/// Fails before anything is served when a backend is unreachable or a migration fails.
pub async fn open(config: &Config, access: Access, migrate: bool) -> Result<Store, OpenError> {
    let store = match &config.storage {
        StorageConfig::Sqlite { path } => {
            let sqlite = SqliteStore::open(path, access).await?;
            if migrate {
                report(sqlite.migrate().await?);
            }
            Store::from_backend("sqlite", Arc::new(sqlite))
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
            Store::from_backend("postgresql", Arc::new(postgres))
        }
        StorageConfig::Mongo { uri } => {
            let mongo = MongoStore::open(uri.expose()).await?;
            if migrate {
                mongo.create_indexes().await?;
            }
            Store::from_backend("mongodb", Arc::new(mongo))
        }
    };
    let store = store.with_caches();
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
