//! Fresh, isolated storage for one test, on the backend named by `TESSERA_TEST_BACKEND`
//! (`sqlite` by default). Each backend yields the environment variables that configure
//! Tessera for it, and a guard that cleans up when dropped. A backend that cannot be reached
//! fails the test: nothing is skipped.
//!
//! | backend      | server (override)                                                        |
//! |--------------|--------------------------------------------------------------------------|
//! | `sqlite`     | a file in a temporary folder                                             |
//! | `postgresql` | `TESSERA_TEST_POSTGRES_ADMIN_URL` (`postgresql://postgres@127.0.0.1:5432/postgres`): a new database per test, owned by the ordinary role `tessera_test` |
//! | `mongodb`    | `TESSERA_TEST_MONGODB_URI` (`mongodb://127.0.0.1:27017/?directConnection=true`): a new database per test |
//! | `redis`      | SQLite for the main store, OIDC artifacts in Redis at `TESSERA_TEST_REDIS_URL` (`redis://127.0.0.1:6379/9`); keys are per tenant, and tenants are new per test |

use std::any::Any;
use url::Url;

pub struct Provisioned {
    pub vars: Vec<(&'static str, String)>,
    pub guard: Box<dyn Any + Send>,
}

/// The key stores opened by the tests themselves seal with (tenants' database settings).
pub fn test_key() -> tessera::crypto::EncryptionKey {
    tessera::crypto::EncryptionKey::parse(&"ab".repeat(32)).unwrap()
}

/// The backend the suite runs against in this process.
pub fn selected() -> String {
    std::env::var("TESSERA_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

/// Where the tests' tenants keep their data: `TESSERA_TEST_PLACEMENT=dedicated` gives each a
/// database of its own (database-per-tenant mode); else they share the main one.
pub fn test_placement() -> tessera::domain::Placement {
    match std::env::var("TESSERA_TEST_PLACEMENT").as_deref() {
        Ok("dedicated") => tessera::domain::Placement::NEW_DATABASE,
        Ok("shared") | Err(_) => tessera::domain::Placement::Shared,
        Ok(other) => panic!("TESSERA_TEST_PLACEMENT={other:?} is neither shared nor dedicated"),
    }
}

/// Storage for one test; with `TESSERA_TEST_FROM_FIXTURE` set, holding the upgrade fixture
/// (see [`load_fixture`]), so the tests run on a database that began at an earlier schema.
/// New tenants are placed as [`test_placement`] says.
pub async fn provision(backend: &str) -> Provisioned {
    let mut storage = fresh(backend).await;
    if test_placement().is_dedicated() {
        storage
            .vars
            .push(("TESSERA_TENANT_PLACEMENT", "dedicated".into()));
        // Tests run side by side on one PostgreSQL server (100 connections by default), and
        // each open tenant database holds up to 3.
        storage
            .vars
            .push(("TESSERA_TENANT_DATABASES_OPEN", "6".into()));
    }
    if std::env::var_os("TESSERA_TEST_FROM_FIXTURE").is_some() {
        return load_fixture(backend, storage).await;
    }
    storage
}

/// Empty storage for one test.
pub async fn fresh(backend: &str) -> Provisioned {
    match backend {
        "sqlite" => sqlite(),
        "postgresql" => postgresql().await,
        "mongodb" => mongodb().await,
        "redis" => redis(),
        other => panic!("TESSERA_TEST_BACKEND={other:?} is not a backend this suite knows"),
    }
}

/// The folder of the upgrade fixture of `backend`: a database made and filled by the code and
/// migrations of an earlier commit (`scripts/upgrade-fixture.sh`), and `secrets.json`, the
/// test passwords, secrets and tokens in it.
pub fn fixture_dir(backend: &str) -> std::path::PathBuf {
    let main = if backend == "redis" {
        "sqlite"
    } else {
        backend
    };
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upgrade")
        .join(main)
}

pub fn fixture_secrets(backend: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture_dir(backend).join("secrets.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Puts the upgrade fixture into freshly provisioned `storage`, as it was at the earlier
/// commit (Tessera migrates it when it opens it), with the fixture's encryption key.
pub async fn load_fixture(backend: &str, mut storage: Provisioned) -> Provisioned {
    let dir = fixture_dir(backend);
    let var = |name: &str| {
        storage
            .vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    match backend {
        "sqlite" | "redis" => {
            std::fs::copy(dir.join("database.db"), var("STORAGE_SQLITE_PATH")).unwrap();
        }
        "postgresql" => {
            use sqlx::Connection;
            let dump = std::fs::read_to_string(dir.join("dump.sql")).unwrap();
            let url = var("STORAGE_POSTGRESQL_URL");
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(&dump)
                .execute(&mut db)
                .await
                .expect("the PostgreSQL fixture loads");
            db.close().await.unwrap();
        }
        "mongodb" => {
            use mongodb::bson::{Bson, Document};
            let text = std::fs::read_to_string(dir.join("dump.json")).unwrap();
            let dump: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).unwrap();
            let client = mongodb::Client::with_uri_str(var("STORAGE_MONGODB_URI"))
                .await
                .unwrap();
            let db = client.default_database().expect("the URI names a database");
            for (collection, docs) in dump {
                let docs: Vec<Document> = docs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| match Bson::try_from(d.clone()).unwrap() {
                        Bson::Document(doc) => doc,
                        other => panic!("{collection}: {other:?} is no document"),
                    })
                    .collect();
                if !docs.is_empty() {
                    db.collection::<Document>(&collection)
                        .insert_many(docs)
                        .await
                        .unwrap();
                }
            }
        }
        other => panic!("no upgrade fixture for {other}"),
    }
    let key = fixture_secrets(backend)["encryption_key"]
        .as_str()
        .unwrap()
        .to_owned();
    storage.vars.push(("TESSERA_ENCRYPTION_KEY", key));
    storage
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}

fn unique_name() -> String {
    format!("tessera_test_{}", uuid::Uuid::new_v4().simple())
}

fn sqlite() -> Provisioned {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tessera.db").display().to_string();
    Provisioned {
        vars: vec![
            ("STORAGE_ADAPTER", "sqlite".into()),
            ("STORAGE_SQLITE_PATH", path),
        ],
        guard: Box::new(dir),
    }
}

/// The role Tessera connects as in tests: it owns its databases and, like a production role,
/// neither is a superuser nor bypasses row-level security.
pub const POSTGRES_APP_ROLE: &str = "tessera_test";

pub fn postgres_admin_url() -> String {
    env_or(
        "TESSERA_TEST_POSTGRES_ADMIN_URL",
        "postgresql://postgres@127.0.0.1:5432/postgres",
    )
}

async fn postgres_admin() -> sqlx::PgPool {
    let url = postgres_admin_url();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {url}: {e}"))
}

/// A database URL for `role` on the admin URL's server.
pub fn postgres_url(role: &str, database: &str) -> String {
    let mut url = Url::parse(&postgres_admin_url()).expect("admin URL");
    url.set_username(role).unwrap();
    url.set_password(None).unwrap();
    url.set_path(database);
    url.into()
}

async fn postgresql() -> Provisioned {
    let admin = postgres_admin().await;
    // Tests run in parallel processes: a concurrent CREATE ROLE fails with either error.
    sqlx::query(&format!(
        "DO $$ BEGIN CREATE ROLE {POSTGRES_APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .execute(&admin)
    .await
    .expect("create the test role");
    // Tenants' own databases (TESSERA_TEST_PLACEMENT=dedicated) are created by Tessera itself.
    // (A role made before it needed CREATEDB gains it; concurrent ALTERs fail with XX000.)
    sqlx::query(&format!(
        "DO $$ BEGIN
           IF NOT (SELECT rolcreatedb FROM pg_roles WHERE rolname = '{POSTGRES_APP_ROLE}') THEN
             ALTER ROLE {POSTGRES_APP_ROLE} CREATEDB;
           END IF;
         EXCEPTION WHEN internal_error THEN NULL; END $$"
    ))
    .execute(&admin)
    .await
    .expect("let the test role create databases");
    let database = unique_name();
    sqlx::query(&format!(
        "CREATE DATABASE {database} OWNER {POSTGRES_APP_ROLE}"
    ))
    .execute(&admin)
    .await
    .expect("create a test database");
    admin.close().await;
    Provisioned {
        vars: vec![
            ("STORAGE_ADAPTER", "postgresql".into()),
            (
                "STORAGE_POSTGRESQL_URL",
                postgres_url(POSTGRES_APP_ROLE, &database),
            ),
            ("STORAGE_POSTGRESQL_POOL_SIZE", "5".into()),
        ],
        guard: Box::new(DropOnExit(Database::Postgres(database))),
    }
}

pub fn mongodb_uri() -> String {
    env_or(
        "TESSERA_TEST_MONGODB_URI",
        "mongodb://127.0.0.1:27017/?directConnection=true",
    )
}

async fn mongodb() -> Provisioned {
    let database = unique_name();
    let mut uri = Url::parse(&mongodb_uri()).expect("TESSERA_TEST_MONGODB_URI is a URL");
    uri.set_path(&database);
    Provisioned {
        vars: vec![
            ("STORAGE_ADAPTER", "mongodb".into()),
            ("STORAGE_MONGODB_URI", uri.into()),
        ],
        guard: Box::new(DropOnExit(Database::Mongo(database))),
    }
}

fn redis() -> Provisioned {
    let mut main = sqlite();
    main.vars.push(("OIDC_STORAGE_ADAPTER", "redis".into()));
    main.vars.push((
        "REDIS_URL",
        env_or("TESSERA_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"),
    ));
    main
}

/// How the names of the tenants' own databases beside the test database `main` begin (Tessera
/// keeps 27 characters of the main name).
fn tenant_database_prefix(main: &str) -> String {
    format!("{}_", &main[..main.len().min(27)])
}

#[derive(Clone)]
enum Database {
    Postgres(String),
    Mongo(String),
}

/// Drops a test's database when the test ends, on a thread of its own (drop cannot await).
struct DropOnExit(Database);

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let target = self.0.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                match target {
                    Database::Postgres(database) => {
                        let admin = postgres_admin().await;
                        let tenants: Vec<String> = sqlx::query_scalar(
                            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                        )
                        .bind(tenant_database_prefix(&database))
                        .fetch_all(&admin)
                        .await
                        .unwrap_or_default();
                        for database in tenants.iter().chain([&database]) {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                            ))
                            .execute(&admin)
                            .await;
                        }
                    }
                    Database::Mongo(database) => {
                        if let Ok(client) = mongodb::Client::with_uri_str(mongodb_uri()).await {
                            let prefix = tenant_database_prefix(&database);
                            let names = client.list_database_names().await.unwrap_or_default();
                            for name in names.iter().filter(|n| n.starts_with(&prefix)) {
                                let _ = client.database(name).drop().await;
                            }
                            let _ = client.database(&database).drop().await;
                        }
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}
