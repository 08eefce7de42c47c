//! Settings from environment variables. Every variable is listed in README.md.

use crate::crypto::EncryptionKey;
use crate::domain::Placement;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use url::Url;

/// A setting that must not appear in logs or debug output (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where tenants, users, clients, sessions, keys and audit events live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: Secret,
        max_connections: u32,
        acquire_timeout_secs: u64,
    },
    Mongo {
        uri: Secret,
    },
}

/// Where short-lived OIDC artifacts (login flows, codes, token records) live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactStorage {
    /// In the main store.
    Main,
    Redis {
        url: Secret,
    },
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (RFC 3207), usually port 587.
    StartTls,
    /// TLS from the first byte, usually port 465.
    Implicit,
    /// No encryption: only for a relay on the same host.
    None,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line, with the request id of the request it belongs to.
    Json,
}

impl LogFormat {
    /// `TESSERA_LOG_FORMAT`, read before the rest of the configuration: logging starts first.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match get("TESSERA_LOG_FORMAT").as_deref() {
            None | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(invalid(
                "TESSERA_LOG_FORMAT",
                format!("{other:?} is not a log format; use \"text\" or \"json\""),
            )),
        }
    }
}

/// Where outgoing email (one-time codes, recovery links, notices) goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailConfig {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        credentials: Option<(String, Secret)>,
        from: String,
    },
    /// Development: every message is written as an `.eml` file into this folder.
    Folder { path: PathBuf, from: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub storage: StorageConfig,
    pub artifacts: ArtifactStorage,
    /// Base of every issuer: `{public_url}/t/{slug}`. No trailing slash.
    pub public_url: Url,
    pub listen: SocketAddr,
    /// Signing keys older than this many days are rotated; 0 turns automatic rotation off.
    pub key_rotation_days: u32,
    pub mail: MailConfig,
    /// WebAuthn relying party id: the host passkeys are bound to.
    pub webauthn_rp_id: String,
    /// The origin browsers report in WebAuthn ceremonies.
    pub webauthn_origin: Url,
    /// When set, `/metrics` answers only requests bearing it (`Authorization: Bearer …`).
    pub metrics_token: Option<Secret>,
    pub log_format: LogFormat,
    /// Where new tenants' data goes unless their creator chooses (`TESSERA_TENANT_PLACEMENT`).
    pub tenant_placement: Placement,
    /// Tenants' own databases open at once; the least recently used close beyond it.
    pub tenant_databases_open: u64,
    /// Requests one API key may make per minute (`TESSERA_API_REQUESTS_PER_MINUTE`).
    pub api_requests_per_minute: u64,
    pub webhooks: WebhookSettings,
    /// Whether clients' documents (`jwks_uri`, `request_uri`) may be fetched from loopback,
    /// private, link-local or cloud-metadata addresses, and plain `http` to a loopback host
    /// (`TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS`): for development and tests; off, a client
    /// cannot make Tessera call into the network it runs in.
    pub fetch_allow_private_networks: bool,
    encryption_key: Option<String>,
}

/// How webhooks are delivered (`jobs::webhooks`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Whether endpoints may be on loopback, private, link-local or cloud-metadata addresses,
    /// and use plain `http` (`TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`): for development and
    /// tests; off, a tenant admin cannot make Tessera call into the network it runs in.
    pub allow_private_networks: bool,
    /// Redirects a delivery follows, each checked as the URL itself
    /// (`TESSERA_WEBHOOKS_MAX_REDIRECTS`, 0 by default: a redirect is a failed delivery).
    pub max_redirects: usize,
    /// An endpoint whose deliveries have failed for this long, with no success between, is
    /// disabled (`TESSERA_WEBHOOKS_DISABLE_AFTER_MINUTES`).
    pub disable_after_secs: i64,
}

/// A setting that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// A whole-number setting within `range`, `default` when unset.
fn whole_number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(var) else {
        return Ok(default);
    };
    raw.parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            let (min, max) = (range.start(), range.end());
            invalid(
                var,
                format!("{raw:?} is not a whole number from {min} to {max}"),
            )
        })
}

/// An on/off setting, off when unset.
fn switch(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("" | "false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(raw) => Err(invalid(var, format!("{raw:?} is neither true nor false"))),
    }
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
        let adapter = get("STORAGE_ADAPTER").unwrap_or_else(|| "sqlite".into());
        let storage = storage(&adapter, &get)?;
        let artifacts = match get("OIDC_STORAGE_ADAPTER") {
            None => ArtifactStorage::Main,
            Some(a) if a == adapter => ArtifactStorage::Main,
            Some(a) if a == "redis" => ArtifactStorage::Redis { url: redis_url(&get)? },
            Some(other) => {
                return Err(invalid(
                    "OIDC_STORAGE_ADAPTER",
                    format!("{other:?} is not available; use \"redis\" or the value of STORAGE_ADAPTER ({adapter:?})"),
                ))
            }
        };

        // `localhost`, not 127.0.0.1: browsers offer WebAuthn on http only there, so a first run
        // has passkeys (the server still listens on 127.0.0.1 only).
        let raw_url = get("TESSERA_PUBLIC_URL").unwrap_or_else(|| "http://localhost:3000".into());
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

        let key_rotation_days = match get("TESSERA_KEY_ROTATION_DAYS") {
            None => 90,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|d| *d <= 3650)
                .ok_or_else(|| {
                    invalid(
                        "TESSERA_KEY_ROTATION_DAYS",
                        format!("{raw:?} is not a number of days from 0 (off) to 3650"),
                    )
                })?,
        };

        let encryption_key = get("TESSERA_ENCRYPTION_KEY");
        if let Some(key) = &encryption_key {
            EncryptionKey::parse(key)
                .map_err(|e| invalid("TESSERA_ENCRYPTION_KEY", e.to_string()))?;
        }

        let mail = mail(&get, &public_url, &storage)?;
        let (webauthn_rp_id, webauthn_origin) = webauthn(&get, &public_url)?;
        let metrics_token = match get("TESSERA_METRICS_TOKEN") {
            Some(token) if token.len() < 16 || !token.is_ascii() || token.contains(char::is_whitespace) => {
                return Err(invalid(
                    "TESSERA_METRICS_TOKEN",
                    "must be at least 16 printable ASCII characters without spaces (e.g. from `openssl rand -hex 32`)",
                ))
            }
            token => token.map(Secret),
        };
        let log_format = LogFormat::from_lookup(&get)?;
        let tenant_placement = match get("TESSERA_TENANT_PLACEMENT") {
            None => Placement::Shared,
            Some(raw) => Placement::parse(&raw).map_err(|_| {
                invalid(
                    "TESSERA_TENANT_PLACEMENT",
                    format!("{raw:?} is neither shared (the main database) nor dedicated (a database per tenant)"),
                )
            })?,
        };
        let tenant_databases_open =
            whole_number(&get, "TESSERA_TENANT_DATABASES_OPEN", 32, 1..=10_000)?;
        let api_requests_per_minute =
            whole_number(&get, "TESSERA_API_REQUESTS_PER_MINUTE", 600, 1..=1_000_000)?;
        let webhooks = WebhookSettings {
            allow_private_networks: switch(&get, "TESSERA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS")?,
            max_redirects: whole_number(&get, "TESSERA_WEBHOOKS_MAX_REDIRECTS", 0, 0..=5)? as usize,
            disable_after_secs: 60
                * whole_number(
                    &get,
                    "TESSERA_WEBHOOKS_DISABLE_AFTER_MINUTES",
                    3 * 24 * 60,
                    0..=60 * 24 * 60,
                )? as i64,
        };
        let fetch_allow_private_networks = switch(&get, "TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS")?;

        Ok(Self {
            storage,
            artifacts,
            public_url,
            listen,
            key_rotation_days,
            mail,
            webauthn_rp_id,
            webauthn_origin,
            metrics_token,
            log_format,
            tenant_placement,
            tenant_databases_open,
            api_requests_per_minute,
            webhooks,
            fetch_allow_private_networks,
            encryption_key,
        })
    }

    /// The folder that holds the SQLite database and, when not configured, the encryption key.
    pub fn data_dir(&self) -> PathBuf {
        data_dir(&self.storage)
    }

    pub fn issuer(&self, slug: &str) -> String {
        format!(
            "{}/t/{slug}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// Whether TESSERA_ENCRYPTION_KEY is set (else the key lives in the data folder).
    pub fn has_encryption_key(&self) -> bool {
        self.encryption_key.is_some()
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

fn storage(
    adapter: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<StorageConfig, ConfigError> {
    let number = |var: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
        match get(var) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    invalid(
                        var,
                        format!("{raw:?} is not a whole number from 1 to {max}"),
                    )
                }),
        }
    };
    match adapter {
        "sqlite" => Ok(StorageConfig::Sqlite {
            path: PathBuf::from(
                get("STORAGE_SQLITE_PATH").unwrap_or_else(|| "./data/tessera.db".into()),
            ),
        }),
        "postgresql" => {
            let url = get("STORAGE_POSTGRESQL_URL").ok_or_else(|| {
                invalid(
                    "STORAGE_POSTGRESQL_URL",
                    "is required when STORAGE_ADAPTER=postgresql",
                )
            })?;
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
                || Url::parse(&url).is_err()
            {
                return Err(invalid(
                    "STORAGE_POSTGRESQL_URL",
                    "must be a URL like postgresql://user:password@host:5432/tessera (TLS with ?sslmode=require)",
                ));
            }
            Ok(StorageConfig::Postgres {
                url: Secret(url),
                max_connections: number("STORAGE_POSTGRESQL_POOL_SIZE", 10, 1000)? as u32,
                acquire_timeout_secs: number("STORAGE_POSTGRESQL_TIMEOUT_SECS", 5, 600)?,
            })
        }
        "mongodb" => {
            let uri = get("STORAGE_MONGODB_URI").ok_or_else(|| {
                invalid(
                    "STORAGE_MONGODB_URI",
                    "is required when STORAGE_ADAPTER=mongodb",
                )
            })?;
            if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
                return Err(invalid(
                    "STORAGE_MONGODB_URI",
                    "must be a URL like mongodb://host:27017/tessera",
                ));
            }
            Ok(StorageConfig::Mongo { uri: Secret(uri) })
        }
        other => Err(invalid(
            "STORAGE_ADAPTER",
            format!("unknown adapter {other:?}; use sqlite, postgresql or mongodb"),
        )),
    }
}

/// `REDIS_URL`, or one built from `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DATABASE`.
fn redis_url(get: &impl Fn(&str) -> Option<String>) -> Result<Secret, ConfigError> {
    if let Some(url) = get("REDIS_URL") {
        if url.starts_with("rediss://") {
            return Err(invalid(
                "REDIS_URL",
                "TLS to Redis (rediss://) is not supported yet; reach Redis over a private network or a TLS tunnel",
            ));
        }
        if !url.starts_with("redis://") || Url::parse(&url).is_err() {
            return Err(invalid(
                "REDIS_URL",
                "must be a URL like redis://host:6379/0",
            ));
        }
        return Ok(Secret(url));
    }
    let host = get("REDIS_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port = get("REDIS_PORT").unwrap_or_else(|| "6379".into());
    if port.parse::<u16>().is_err() {
        return Err(invalid(
            "REDIS_PORT",
            format!("{port:?} is not a port number"),
        ));
    }
    let database = get("REDIS_DATABASE").unwrap_or_else(|| "0".into());
    if database.parse::<u8>().is_err() {
        return Err(invalid(
            "REDIS_DATABASE",
            format!("{database:?} is not a database number"),
        ));
    }
    let mut url = Url::parse(&format!("redis://{host}:{port}/{database}"))
        .map_err(|_| invalid("REDIS_HOST", format!("{host:?} is not a host name")))?;
    if let Some(password) = get("REDIS_PASSWORD") {
        url.set_password(Some(&password))
            .map_err(|_| invalid("REDIS_PASSWORD", "cannot be used in a Redis URL"))?;
    }
    Ok(Secret(url.into()))
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

fn data_dir(storage: &StorageConfig) -> PathBuf {
    match storage {
        StorageConfig::Sqlite { path } => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        StorageConfig::Postgres { .. } | StorageConfig::Mongo { .. } => PathBuf::from("./data"),
    }
}

/// The WebAuthn relying party: by default the host and origin of the public URL. A passkey
/// works only where its RP id is the host or a parent domain of it (WebAuthn §5.1.3, §7.1).
fn webauthn(
    get: &impl Fn(&str) -> Option<String>,
    public_url: &Url,
) -> Result<(String, Url), ConfigError> {
    let origin = match get("WEBAUTHN_ORIGIN") {
        None => Url::parse(&public_url.origin().ascii_serialization()).expect("an origin is a URL"),
        Some(raw) => Url::parse(&raw)
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/"
            })
            .ok_or_else(|| {
                invalid(
                    "WEBAUTHN_ORIGIN",
                    format!("{raw:?} is not an origin like https://id.example.com"),
                )
            })?,
    };
    let host = origin.host_str().unwrap_or_default().to_owned();
    let rp_id = get("WEBAUTHN_RP_ID").unwrap_or_else(|| host.clone());
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(invalid(
            "WEBAUTHN_RP_ID",
            format!("{rp_id:?} must be the host of the origin ({host}) or a parent domain of it"),
        ));
    }
    Ok((rp_id, origin))
}

/// SMTP when `SMTP_HOST` is set; otherwise the development mail folder.
fn mail(
    get: &impl Fn(&str) -> Option<String>,
    public_url: &Url,
    storage: &StorageConfig,
) -> Result<MailConfig, ConfigError> {
    let from = match get("SMTP_FROM") {
        Some(from) => {
            from.parse::<lettre::message::Mailbox>().map_err(|e| {
                invalid(
                    "SMTP_FROM",
                    format!("{from:?} is not an address like Tessera <id@example.com> ({e})"),
                )
            })?;
            from
        }
        None => format!(
            "Tessera <no-reply@{}>",
            public_url.host_str().unwrap_or("localhost")
        ),
    };
    let Some(host) = get("SMTP_HOST") else {
        let path = get("MAIL_DEV_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir(storage).join("mail"));
        return Ok(MailConfig::Folder { path, from });
    };
    let tls = match get("SMTP_TLS").as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Implicit,
        Some("none") => SmtpTls::None,
        Some(other) => {
            return Err(invalid(
                "SMTP_TLS",
                format!("{other:?} is not one of starttls (default), tls, none"),
            ))
        }
    };
    let port = match get("SMTP_PORT") {
        None => match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        },
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid("SMTP_PORT", format!("{raw:?} is not a port number")))?,
    };
    let credentials = match (get("SMTP_USERNAME"), get("SMTP_PASSWORD")) {
        (Some(user), Some(password)) => Some((user, Secret(password))),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "SMTP_USERNAME",
                "set both SMTP_USERNAME and SMTP_PASSWORD, or neither",
            ))
        }
    };
    Ok(MailConfig::Smtp {
        host,
        port,
        tls,
        credentials,
        from,
    })
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
        assert_eq!(c.issuer("default"), "http://localhost:3000/t/default");
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
            ("TESSERA_KEY_ROTATION_DAYS", "-1"),
            ("TESSERA_KEY_ROTATION_DAYS", "soon"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn every_backend_is_configured_by_its_own_variables() {
        let pg = config(&[
            ("STORAGE_ADAPTER", "postgresql"),
            (
                "STORAGE_POSTGRESQL_URL",
                "postgresql://u:pw@db/tessera?sslmode=require",
            ),
            ("STORAGE_POSTGRESQL_POOL_SIZE", "20"),
        ])
        .unwrap();
        assert!(matches!(
            pg.storage,
            StorageConfig::Postgres {
                max_connections: 20,
                acquire_timeout_secs: 5,
                ..
            }
        ));
        assert!(!format!("{pg:?}").contains("pw"), "secrets are not printed");
        let err = config(&[("STORAGE_ADAPTER", "postgresql")]).unwrap_err();
        assert_eq!(err.var, "STORAGE_POSTGRESQL_URL");
        let err = config(&[
            ("STORAGE_ADAPTER", "mongodb"),
            ("STORAGE_MONGODB_URI", "http://x"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "STORAGE_MONGODB_URI");

        let redis = config(&[
            ("OIDC_STORAGE_ADAPTER", "redis"),
            ("REDIS_HOST", "cache"),
            ("REDIS_PASSWORD", "p@ss/word"),
            ("REDIS_DATABASE", "2"),
        ])
        .unwrap();
        assert_eq!(
            redis.artifacts,
            ArtifactStorage::Redis {
                url: Secret("redis://:p%40ss%2Fword@cache:6379/2".into())
            }
        );
        assert_eq!(
            config(&[("OIDC_STORAGE_ADAPTER", "sqlite")])
                .unwrap()
                .artifacts,
            ArtifactStorage::Main
        );
        assert_eq!(
            config(&[("OIDC_STORAGE_ADAPTER", "mongodb")])
                .unwrap_err()
                .var,
            "OIDC_STORAGE_ADAPTER"
        );
        assert_eq!(
            config(&[("OIDC_STORAGE_ADAPTER", "redis"), ("REDIS_PORT", "99999")])
                .unwrap_err()
                .var,
            "REDIS_PORT"
        );
        let tls = config(&[
            ("OIDC_STORAGE_ADAPTER", "redis"),
            ("REDIS_URL", "rediss://cache:6380/0"),
        ])
        .unwrap_err();
        assert_eq!(tls.var, "REDIS_URL");
        assert!(tls.message.contains("not supported"), "{tls}");
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
