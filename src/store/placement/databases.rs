//! Tenants' own databases: where a new one goes, how one is opened (and migrated), and how one
//! is dropped with its tenant. A tenant's database is of the main store's kind: a SQLite file
//! beside the main one, a PostgreSQL database on the main server, a MongoDB database on the
//! main deployment.

use crate::crypto::EncryptionKey;
use crate::domain::TenantId;
use crate::store::{
    mongo::MongoStore, postgres::PostgresStore, sqlite::SqliteStore, Access, OpenError, Store,
    StoreError, StoreResult,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Connections of one tenant database's PostgreSQL pool, opened as they are needed: with
/// `TESSERA_TENANT_DATABASES_OPEN` databases open, at most that many times this.
const POSTGRES_POOL_SIZE: u32 = 3;

/// The connection settings of a tenant's own database, as the registry keeps them (sealed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub(crate) enum TenantDatabase {
    Sqlite {
        path: PathBuf,
    },
    /// The URL names the database (and may hold a password: hence sealed).
    Postgresql {
        url: String,
    },
    /// A database of the main deployment.
    Mongodb {
        database: String,
    },
}

impl TenantDatabase {
    /// Sealed with the installation's key and bound to the tenant, so the settings of one
    /// tenant's database cannot be copied into another tenant's row.
    pub(crate) fn seal(&self, tenant: TenantId, key: &EncryptionKey) -> String {
        let json = serde_json::to_vec(self).expect("plain data serialises");
        STANDARD.encode(key.seal(&json, &context(tenant)))
    }

    pub(crate) fn unseal(sealed: &str, tenant: TenantId, key: &EncryptionKey) -> StoreResult<Self> {
        let damaged = |why: String| {
            StoreError::Corrupt(format!("the database settings of tenant {tenant}: {why}"))
        };
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|e| damaged(e.to_string()))?;
        let json = key
            .open(&bytes, &context(tenant))
            .map_err(|e| damaged(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| damaged(e.to_string()))
    }

    /// What people call it in messages (never the URL, which may hold a password).
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("the SQLite file {}", path.display()),
            Self::Postgresql { url } => format!(
                "the PostgreSQL database {}",
                database_of(url).unwrap_or_default()
            ),
            Self::Mongodb { database } => format!("the MongoDB database {database}"),
        }
    }
}

fn context(tenant: TenantId) -> String {
    format!("tenant-database:{tenant}")
}

fn database_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_owned())
}

/// Where this installation puts tenants' databases, next to its main store.
#[derive(Clone)]
pub(crate) enum Databases {
    Sqlite {
        folder: PathBuf,
    },
    Postgres {
        main: Arc<PostgresStore>,
        url: Url,
        timeout: Duration,
    },
    Mongo {
        main: Arc<MongoStore>,
    },
}

impl Databases {
    /// Beside the main SQLite file, in a folder `tenants`.
    pub(crate) fn sqlite(main: &Path) -> Self {
        let folder = main
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("tenants");
        Self::Sqlite { folder }
    }

    /// Creates an empty database for `tenant`.
    pub(crate) async fn create(&self, tenant: TenantId) -> StoreResult<TenantDatabase> {
        match self {
            Self::Sqlite { folder } => Ok(TenantDatabase::Sqlite {
                path: folder.join(format!("{tenant}.db")),
            }),
            Self::Postgres { main, url, .. } => {
                let name = name_beside(url.path().trim_start_matches('/'), tenant);
                main.create_database(&name).await?;
                let mut own = url.clone();
                own.set_path(&name);
                Ok(TenantDatabase::Postgresql { url: own.into() })
            }
            Self::Mongo { main } => Ok(TenantDatabase::Mongodb {
                database: name_beside(main.database_name(), tenant),
            }),
        }
    }

    /// Opens `database`, first migrating it to this version's schema when `migrate` is set.
    /// On a blocking thread of its own, which runs the opening on this runtime: sqlx's
    /// migration futures cannot be proven `Send` (a compiler limit with higher-ranked
    /// lifetimes), and every repository method that may open a database must be.
    pub(crate) async fn open(
        &self,
        database: &TenantDatabase,
        migrate: bool,
    ) -> Result<Store, OpenError> {
        let (databases, database) = (self.clone(), database.clone());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(databases.open_now(&database, migrate))
        })
        .await
        .map_err(|e| OpenError::Migrate(format!("opening a tenant's database stopped: {e}")))?
    }

    async fn open_now(&self, database: &TenantDatabase, migrate: bool) -> Result<Store, OpenError> {
        match (self, database) {
            (Self::Sqlite { .. }, TenantDatabase::Sqlite { path }) => {
                // As a tool: the main file's lock already keeps a second server away, and
                // the writer's own checkpoints bound each file's log, with no task per file.
                let (sqlite, _) = SqliteStore::open(path, Access::Tool, migrate).await?;
                Ok(Store::from_backend("sqlite", Arc::new(sqlite)))
            }
            (Self::Postgres { timeout, .. }, TenantDatabase::Postgresql { url }) => {
                let postgres = PostgresStore::open(url, POSTGRES_POOL_SIZE, *timeout).await?;
                if migrate {
                    postgres.migrate().await?;
                }
                Ok(Store::from_backend("postgresql", Arc::new(postgres)))
            }
            (Self::Mongo { main }, TenantDatabase::Mongodb { database }) => {
                let mongo = main.sibling(database);
                if migrate {
                    mongo.create_indexes().await?;
                }
                Ok(Store::from_backend("mongodb", Arc::new(mongo)))
            }
            _ => Err(OpenError::Migrate(format!(
                "{} is not of the main store's kind; a tenant's database is on the backend of STORAGE_ADAPTER",
                database.describe()
            ))),
        }
    }

    /// Drops `database` with everything in it; nothing to do when it is gone already.
    pub(crate) async fn drop(&self, database: &TenantDatabase) -> StoreResult<()> {
        match (self, database) {
            (Self::Sqlite { .. }, TenantDatabase::Sqlite { path }) => {
                for file in [
                    path.to_path_buf(),
                    with_suffix(path, "-wal"),
                    with_suffix(path, "-shm"),
                    path.with_extension("lock"),
                ] {
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(StoreError::Unavailable(format!(
                                "cannot remove {}: {e}",
                                file.display()
                            )))
                        }
                    }
                }
                Ok(())
            }
            (Self::Postgres { main, .. }, TenantDatabase::Postgresql { url }) => {
                let name = database_of(url).unwrap_or_default();
                main.drop_database(&name).await
            }
            (Self::Mongo { main }, TenantDatabase::Mongodb { database }) => {
                main.sibling(database).drop_database().await
            }
            _ => Err(StoreError::Corrupt(format!(
                "{} is not of the main store's kind",
                database.describe()
            ))),
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The name of a tenant's database beside the main database `main`: PostgreSQL and MongoDB
/// both allow 63 bytes, so the main name is cut to leave room for the tenant's id.
fn name_beside(main: &str, tenant: TenantId) -> String {
    let main: String = main
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(27)
        .collect();
    let main = if main.is_empty() {
        "tessera".into()
    } else {
        main
    };
    format!("{main}_{}", tenant.as_uuid().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_both_servers_and_keep_the_main_name_as_their_prefix() {
        let tenant = TenantId::generate();
        let name = name_beside(&format!("tessera_test_{}", "a".repeat(32)), tenant);
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("tessera_test_aaaaaaaaaaaaaa_"));
        assert_eq!(
            name_beside("", tenant),
            format!("tessera_{}", tenant.as_uuid().simple())
        );
        assert_eq!(
            name_beside("my-db\";drop", tenant).split('_').next(),
            Some("mydbdrop")
        );
    }

    #[test]
    fn sealed_settings_open_only_for_their_tenant_and_key() {
        let key = EncryptionKey::parse(&"ab".repeat(32)).unwrap();
        let tenant = TenantId::generate();
        let database = TenantDatabase::Postgresql {
            url: "postgresql://app:secret@db/tessera_x".into(),
        };
        let sealed = database.seal(tenant, &key);
        assert!(!sealed.contains("secret"));
        assert_eq!(
            TenantDatabase::unseal(&sealed, tenant, &key).unwrap(),
            database
        );
        assert!(TenantDatabase::unseal(&sealed, TenantId::generate(), &key).is_err());
        let other = EncryptionKey::parse(&"cd".repeat(32)).unwrap();
        assert!(TenantDatabase::unseal(&sealed, tenant, &other).is_err());
        assert_eq!(database.describe(), "the PostgreSQL database tessera_x");
    }
}
