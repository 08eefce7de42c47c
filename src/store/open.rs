//! Chooses and opens the backends named by the configuration.

use super::{sqlite::SqliteStore, Access, OpenError, Store};
use crate::config::{ArtifactStorage, Config, StorageConfig};
use std::sync::Arc;

/// Opens the configured storage, applying pending migrations first when `migrate` is set.
pub async fn open(config: &Config, access: Access, migrate: bool) -> Result<Store, OpenError> {
    let store = match &config.storage {
        StorageConfig::Sqlite { path } => {
            let sqlite = SqliteStore::open(path, access).await?;
            if migrate {
                report(sqlite.migrate().await?);
            }
            Store::from_backend(Arc::new(sqlite))
        }
        StorageConfig::Postgres { .. } => return Err(OpenError::Unsupported("PostgreSQL")),
        StorageConfig::Mongo { .. } => return Err(OpenError::Unsupported("MongoDB")),
    };
    match &config.artifacts {
        ArtifactStorage::Main => Ok(store),
        ArtifactStorage::Redis { .. } => Err(OpenError::Unsupported("Redis")),
    }
}

fn report(applied: usize) {
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
}
