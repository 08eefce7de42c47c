//! A server that cannot reach its storage, or cannot migrate it, refuses to start with a message
//! that says what is wrong, and never half-starts.
#![cfg(feature = "ssr")]

mod common;

use common::backends;
use std::process::{Command, Output};

fn serve(vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env_clear()
        .envs(vars.iter().copied())
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ENCRYPTION_KEY", "00".repeat(32))
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unreachable_backends_are_named_and_the_server_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("tessera.db");
    let cases = [
        (
            vec![
                ("STORAGE_ADAPTER", "postgresql"),
                (
                    "STORAGE_POSTGRESQL_URL",
                    "postgresql://tessera@127.0.0.1:1/tessera",
                ),
                ("STORAGE_POSTGRESQL_TIMEOUT_SECS", "2"),
            ],
            "PostgreSQL",
        ),
        (
            vec![
                ("STORAGE_ADAPTER", "mongodb"),
                ("STORAGE_MONGODB_URI", "mongodb://127.0.0.1:1/tessera"),
            ],
            "MongoDB",
        ),
        (
            vec![
                ("OIDC_STORAGE_ADAPTER", "redis"),
                ("REDIS_PORT", "1"),
                ("STORAGE_SQLITE_PATH", sqlite.to_str().unwrap()),
            ],
            "Redis",
        ),
    ];
    for (vars, name) in cases {
        let out = serve(&vars);
        let err = stderr(&out);
        assert!(!out.status.success(), "{name}: {err}");
        assert!(
            err.contains(&format!("cannot connect to {name}"))
                || err.contains(&format!("cannot connect to the {name}")),
            "{name}: {err}"
        );
        assert!(!err.contains("listening"), "{name}: never served: {err}");
    }
}

#[tokio::test]
async fn a_failed_migration_stops_the_start() {
    let storage = backends::provision("postgresql").await;
    let url = storage
        .vars
        .iter()
        .find(|(k, _)| *k == "STORAGE_POSTGRESQL_URL")
        .unwrap()
        .1
        .clone();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE tenants (something_else int)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let out = serve(&[
        ("STORAGE_ADAPTER", "postgresql"),
        ("STORAGE_POSTGRESQL_URL", &url),
    ]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("database migration failed"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}
