//! Turning configuration into a running server: key, storage, migrations, first tenant.

use crate::admin::{self, Actor};
use crate::config::{Config, ConfigError, LogFormat};
use crate::domain::TenantSlug;
use crate::error::{AppError, AppResult};
use crate::mail::Mailer;
use crate::state::keys::KeyRing;
use crate::state::outbound::Fetcher;
use crate::state::{password::Passwords, relying_party::RelyingParty, throttle::LoginThrottle};
use crate::state::{AppState, Shared};
use crate::store::{group_commit::GroupCommit, Access, OpenError};
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Storage(#[from] OpenError),
    #[error("email: {0}")]
    Mail(#[from] crate::mail::MailError),
    #[error("{LEPTOS_TOML}: {0}")]
    Leptos(String),
}

/// The Leptos settings (output name, site folder), beside `Cargo.toml`.
const LEPTOS_TOML: &str = "Leptos.toml";

/// The Leptos settings: `Leptos.toml` in the working directory (the repository root, where the
/// scripts start the server) or, for a binary run elsewhere, the copy built into it; with
/// `LEPTOS_*` environment variables over either (`LEPTOS_SITE_ROOT=…`).
fn leptos_options(listen: std::net::SocketAddr) -> Result<LeptosOptions, StartupError> {
    let text = match std::fs::read_to_string(LEPTOS_TOML) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            include_str!("../../Leptos.toml").to_owned()
        }
        Err(e) => return Err(StartupError::Leptos(e.to_string())),
    };
    // Leptos reads its settings from a section of that name (as in `Cargo.toml`).
    let mut options =
        leptos::config::get_config_from_str(&format!("[package.metadata.leptos]\n{text}"))
            .map_err(|e| StartupError::Leptos(e.to_string()))?;
    options.site_addr = listen;
    Ok(options)
}

/// Opens storage (as the one server when `serving`), applies migrations when `migrate`, and
/// builds the shared state.
pub async fn build_state(
    config: Config,
    serving: bool,
    migrate: bool,
) -> Result<AppState, StartupError> {
    let resolved = config.encryption_key()?;
    if let Some(path) = &resolved.generated_at {
        notice(
            &config,
            &format!("warning: generated a new encryption key at {}. Back it up: without it the signing keys and secrets in the database cannot be read. Set TESSERA_ENCRYPTION_KEY to manage it yourself.",
            path.display()),
        );
    }
    let access = if serving {
        Access::Server
    } else {
        Access::Tool
    };
    let store = crate::store::open(&config, &resolved.key, access, migrate).await?;
    let mailer = Mailer::new(&config.mail)?;
    let passkeys = Arc::new(RelyingParty::new(&config)?);
    if serving && !passkeys.available() {
        notice(
            &config,
            &format!("note: passkeys are off because {} is an IP address, and WebAuthn needs a domain name. Use a name such as http://localhost:3000 in TESSERA_PUBLIC_URL (or WEBAUTHN_ORIGIN) to turn them on.",
            config.webauthn_origin),
        );
    }
    if let (true, Some(folder)) = (serving, mailer.dev_folder()) {
        notice(
            &config,
            &format!("warning: SMTP_HOST is not set, so no email is sent. DEVELOPMENT MODE: every message (sign-in codes, password reset links) is written to {} instead. Set SMTP_HOST before real people use this server.",
            folder.display()),
        );
    }
    let leptos_options = leptos_options(config.listen)?;
    let throttle = Arc::new(LoginThrottle::new(store.artifacts.clone()));
    let fetcher = Fetcher::new(config.fetch_allow_private_networks);
    Ok(AppState::new(Shared {
        writer: GroupCommit::for_store(&store),
        keys: Arc::new(KeyRing::new(store.clone(), resolved.key.clone())),
        secrets: resolved.key,
        mailer,
        passkeys,
        config: Arc::new(config),
        store,
        passwords: Passwords::default(),
        throttle,
        queue: Default::default(),
        fetcher,
        key_sets: Default::default(),
        provider_documents: Default::default(),
        leptos_options,
    }))
}

/// A fresh installation gets the tenant `default` and a first administrator whose generated
/// password is printed this once.
pub async fn bootstrap(state: &AppState) -> AppResult<()> {
    let slug = TenantSlug::parse(TenantSlug::DEFAULT)?;
    if state.store.tenants.by_slug(&slug).await?.is_some() {
        return Ok(());
    }
    let tenant = match admin::tenants::create(state, &Actor::Cli, slug.as_str(), "Default").await {
        Ok(tenant) => tenant,
        // Another process sharing this database (PostgreSQL, MongoDB) started at the same
        // moment and is creating the tenant and its administrator.
        Err(AppError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let email = std::env::var("TESSERA_ADMIN_EMAIL").unwrap_or_else(|_| "admin@localhost".into());
    let (user, password) = admin::users::create_first_owner(state, &tenant, &email).await?;
    let login = format!("{}/login", state.config.issuer(tenant.slug.as_str()));
    let banner = format!(
        "\n  Created the tenant \"default\" and its first administrator.\n  Sign in at {login}\n    email:    {}\n    password: {password}\n  This password is shown only this once: store it in a password manager.\n",
        user.email
    );
    notice(&state.config, &banner);
    Ok(())
}

/// A note for whoever starts the server: lines on stderr, or one log line when logs are JSON
/// (a log collector then parses every line).
fn notice(config: &Config, text: &str) {
    match config.log_format {
        LogFormat::Text => eprintln!("{text}"),
        LogFormat::Json => tracing::warn!("{}", text.trim()),
    }
}

pub async fn serve(state: AppState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot listen on {} (TESSERA_LISTEN): {e}",
                    state.config.listen
                ),
            )
        })?;
    tracing::info!(
        "Tessera is listening on http://{} (public URL {})",
        state.config.listen,
        state.config.public_url
    );
    crate::jobs::queue::spawn_worker(state.clone());
    tokio::spawn(crate::jobs::purge::run_forever(state.store.clone()));
    if state.config.key_rotation_days > 0 {
        let days = state.config.key_rotation_days;
        tokio::spawn(crate::jobs::rotate_keys::run_forever(state.clone(), days));
    }
    crate::http::serve(state, listener).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leptos_settings_come_from_leptos_toml() {
        let listen = "127.0.0.1:4321".parse().unwrap();
        let options = leptos_options(listen).expect("Leptos.toml is read");
        assert_eq!(&*options.output_name, "tessera");
        assert_eq!(&*options.site_pkg_dir, "pkg");
        assert_eq!(options.site_addr, listen, "the address is TESSERA_LISTEN's");
        assert_eq!(
            options.site_root.as_ref(),
            std::env::var("LEPTOS_SITE_ROOT")
                .as_deref()
                .unwrap_or("target/site"),
        );
    }
}
