//! Fresh, isolated storage for one test, on the backend named by `TESSERA_TEST_BACKEND`
//! (`sqlite` by default). Each backend yields the environment variables that configure
//! Tessera for it, and a guard that cleans up when dropped.

use std::any::Any;

pub struct Provisioned {
    pub vars: Vec<(&'static str, String)>,
    pub guard: Box<dyn Any + Send>,
}

/// The backend the suite runs against in this process.
pub fn selected() -> String {
    std::env::var("TESSERA_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

pub async fn provision(backend: &str) -> Provisioned {
    match backend {
        "sqlite" => sqlite(),
        other => panic!("TESSERA_TEST_BACKEND={other:?} is not a backend this suite knows"),
    }
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
