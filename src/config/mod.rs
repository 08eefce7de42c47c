//! Settings from environment variables. Every variable is listed in README.md.

use crate::crypto::EncryptionKey;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use url::Url;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite { path: PathBuf },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub storage: StorageConfig,
    /// Base of every issuer: `{public_url}/t/{slug}`. No trailing slash.
    pub public_url: Url,
    pub listen: SocketAddr,
    encryption_key: Option<String>,
}

/// A setting that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn invalid(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let storage = match get("STORAGE_ADAPTER").as_deref().unwrap_or("sqlite") {
            "sqlite" => StorageConfig::Sqlite {
                path: PathBuf::from(
                    get("STORAGE_SQLITE_PATH").unwrap_or_else(|| "./data/tessera.db".into()),
                ),
            },
            "postgresql" | "mongodb" => return Err(invalid(
                "STORAGE_ADAPTER",
                "this build supports only \"sqlite\" so far (PostgreSQL and MongoDB are coming)",
            )),
            other => {
                return Err(invalid(
                    "STORAGE_ADAPTER",
                    format!("unknown adapter {other:?}; use \"sqlite\""),
                ))
            }
        };

        let raw_url = get("TESSERA_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        let public_url = Url::parse(raw_url.trim_end_matches('/')).map_err(|e| {
            invalid(
                "TESSERA_PUBLIC_URL",
                format!("{raw_url:?} is not a URL ({e})"),
            )
        })?;
        if !matches!(public_url.scheme(), "http" | "https")
            || public_url.query().is_some()
            || public_url.fragment().is_some()
            || public_url.host().is_none()
        {
            return Err(invalid(
                "TESSERA_PUBLIC_URL",
                format!("{raw_url:?} must be an http(s) URL without query or fragment, like https://id.example.com"),
            ));
        }

        let raw_listen = get("TESSERA_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen = raw_listen.parse().map_err(|_| {
            invalid(
                "TESSERA_LISTEN",
                format!("{raw_listen:?} is not an address like 127.0.0.1:3000"),
            )
        })?;

        let encryption_key = get("TESSERA_ENCRYPTION_KEY");
        if let Some(key) = &encryption_key {
            EncryptionKey::parse(key)
                .map_err(|e| invalid("TESSERA_ENCRYPTION_KEY", e.to_string()))?;
        }

        Ok(Self {
            storage,
            public_url,
            listen,
            encryption_key,
        })
    }

    /// The folder that holds the database and, when not configured, the encryption key.
    pub fn data_dir(&self) -> PathBuf {
        match &self.storage {
            StorageConfig::Sqlite { path } => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        }
    }

    pub fn issuer(&self, slug: &str) -> String {
        format!(
            "{}/t/{slug}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The configured key, else the one in the data folder, else a new one written there.
    pub fn encryption_key(&self) -> Result<ResolvedKey, ConfigError> {
        if let Some(text) = &self.encryption_key {
            let key = EncryptionKey::parse(text)
                .map_err(|e| invalid("TESSERA_ENCRYPTION_KEY", e.to_string()))?;
            return Ok(ResolvedKey {
                key,
                generated_at: None,
            });
        }
        let path = self.data_dir().join("encryption.key");
        let io_error = |e: std::io::Error| {
            invalid(
                "TESSERA_ENCRYPTION_KEY",
                format!("not set, and {} cannot be used: {e}", path.display()),
            )
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = EncryptionKey::parse(&text).map_err(|e| {
                    invalid(
                        "TESSERA_ENCRYPTION_KEY",
                        format!("not set, and {} {e}", path.display()),
                    )
                })?;
                Ok(ResolvedKey {
                    key,
                    generated_at: None,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(self.data_dir()).map_err(io_error)?;
                let (key, text) = EncryptionKey::generate();
                write_private_file(&path, &text).map_err(io_error)?;
                Ok(ResolvedKey {
                    key,
                    generated_at: Some(path),
                })
            }
            Err(e) => Err(io_error(e)),
        }
    }
}

pub struct ResolvedKey {
    pub key: EncryptionKey,
    /// Set when the key was generated just now (the caller warns to back it up).
    pub generated_at: Option<PathBuf>,
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_sqlite_quick_start() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.storage,
            StorageConfig::Sqlite {
                path: "./data/tessera.db".into()
            }
        );
        assert_eq!(c.issuer("default"), "http://127.0.0.1:3000/t/default");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert!(!c.secure_cookies());
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (var, value) in [
            ("STORAGE_ADAPTER", "oracle"),
            ("TESSERA_PUBLIC_URL", "ftp://x"),
            ("TESSERA_PUBLIC_URL", "not a url"),
            ("TESSERA_LISTEN", "localhost"),
            ("TESSERA_ENCRYPTION_KEY", "short"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn generated_key_is_written_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let c = config(&[("STORAGE_SQLITE_PATH", db.to_str().unwrap())]).unwrap();
        let first = c.encryption_key().unwrap();
        assert!(first.generated_at.is_some());
        let second = c.encryption_key().unwrap();
        assert!(second.generated_at.is_none());
        assert_eq!(first.key.key_id(), second.key.key_id());
    }
}
