//! `tessera connection`: the other identity providers a tenant's people may sign in with.

use super::{describe, OnOff};
use crate::admin::{self, connections::ConnectionInput, Actor};
use crate::domain::connection::{acs_url, callback_url, sp_metadata_url};
use crate::domain::{Connection, Preset, Tenant};
use crate::error::AppError;
use crate::state::AppState;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub(super) enum ConnectionCommand {
    /// Add a connection. Register Tessera at the provider first, with the callback URL
    /// {issuer}/upstream/{slug}/callback as its redirect URI; this prints it too. A SAML
    /// identity provider is added from its metadata (--metadata), and registers Tessera
    /// afterwards from the metadata URL this prints.
    Create {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// The provider: google, microsoft (Entra ID), github, oidc (any OpenID Connect
        /// provider), oauth2 (any OAuth 2 provider with a userinfo endpoint) or saml (a SAML 2.0
        /// identity provider).
        #[arg(long, value_parser = parse_preset)]
        preset: Preset,
        #[command(flatten)]
        settings: Settings,
        /// Create an account for someone signing in this way for the first time (otherwise
        /// only people with an account here can).
        #[arg(long)]
        provisioning: bool,
        /// Add it switched off: no sign-in button until it is enabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List the tenant's connections: slug, provider, status, email domains and name.
    List {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
    },
    /// Change a connection; what is not given stays as it is (the secret too).
    Update {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// The connection's short name, as `connection list` shows it.
        connection: String,
        #[command(flatten)]
        settings: Settings,
        /// Whether a first sign-in of someone without an account here creates one.
        #[arg(long, value_enum)]
        provisioning: Option<OnOff>,
        /// Whether people may sign in through it.
        #[arg(long, value_enum)]
        enabled: Option<OnOff>,
    },
    /// Delete a connection and every account's link to it: people who signed in only through
    /// it lose that way in.
    Delete {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// The connection's short name, as `connection list` shows it.
        connection: String,
    },
}

/// The settings `create` and `update` share; the presets fix some of them.
#[derive(Args)]
pub(super) struct Settings {
    /// Short name of the connection, in its callback URL: 1 to 40 lower-case letters, digits
    /// and dashes, starting with a letter (e.g. google).
    #[arg(long)]
    slug: Option<String>,
    /// What the sign-in button says after "Continue with" (e.g. Google).
    #[arg(long)]
    name: Option<String>,
    /// oidc: the provider's issuer, exactly as its ID tokens name it (e.g.
    /// https://idp.example.com); discovery is found below it.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// microsoft: the directory (tenant) id, a GUID ("common" and "organizations" are refused).
    #[arg(long, value_name = "GUID")]
    directory: Option<String>,
    /// oauth2: where people are sent to sign in.
    #[arg(long, value_name = "URL")]
    authorization_endpoint: Option<String>,
    /// oauth2: where the code is exchanged for an access token.
    #[arg(long, value_name = "URL")]
    token_endpoint: Option<String>,
    /// oauth2: what answers with the person's details for the access token.
    #[arg(long, value_name = "URL")]
    userinfo_endpoint: Option<String>,
    /// saml: a file holding the identity provider's metadata XML (its entity id, single
    /// sign-on address and signing certificates are read from it).
    #[arg(long, value_name = "FILE")]
    metadata: Option<std::path::PathBuf>,
    /// The client id the provider gave Tessera; saml: the entity id Tessera goes by there
    /// (default: Tessera's metadata URL for the connection).
    #[arg(long)]
    client_id: Option<String>,
    /// The client secret the provider gave Tessera (required but for oidc and oauth2 public
    /// clients). Set TESSERA_CONNECTION_CLIENT_SECRET instead to keep it out of the shell's
    /// history.
    #[arg(long, env = "TESSERA_CONNECTION_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Scopes to ask for, separated by spaces (default: the provider's usual ones; oidc
    /// always includes openid).
    #[arg(long)]
    scopes: Option<String>,
    /// oidc and oauth2: the claim with the person's stable id (default: sub); saml: NameID
    /// (the default) or an attribute.
    #[arg(long, value_name = "CLAIM")]
    subject_claim: Option<String>,
    /// oidc and oauth2: the claim with the email address (default: email); saml: the
    /// attribute's Name or FriendlyName (default: urn:oid:0.9.2342.19200300.100.1.3, mail).
    #[arg(long, value_name = "CLAIM")]
    email_claim: Option<String>,
    /// oidc, oauth2 and saml: the claim or attribute saying whether the address is verified
    /// (default: email_verified).
    #[arg(long, value_name = "CLAIM")]
    email_verified_claim: Option<String>,
    /// oidc and oauth2: the claim with the person's name (default: name); saml: the
    /// attribute (default: urn:oid:2.16.840.1.113730.3.1.241, displayName).
    #[arg(long, value_name = "CLAIM")]
    name_claim: Option<String>,
    /// Email domains whose people go straight to this provider, separated by commas.
    #[arg(long)]
    domains: Option<String>,
}

impl Settings {
    /// `input` with the settings given here; the metadata file is read.
    fn apply(self, input: ConnectionInput) -> Result<ConnectionInput, String> {
        let metadata = match &self.metadata {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("--metadata: cannot read {}: {e}", path.display()))?,
            None => input.metadata.clone(),
        };
        Ok(ConnectionInput {
            slug: self.slug.unwrap_or(input.slug),
            name: self.name.unwrap_or(input.name),
            issuer: self.issuer.unwrap_or(input.issuer),
            directory: self.directory.unwrap_or(input.directory),
            authorization_endpoint: self
                .authorization_endpoint
                .unwrap_or(input.authorization_endpoint),
            token_endpoint: self.token_endpoint.unwrap_or(input.token_endpoint),
            userinfo_endpoint: self.userinfo_endpoint.unwrap_or(input.userinfo_endpoint),
            metadata,
            client_id: self.client_id.unwrap_or(input.client_id),
            client_secret: self.client_secret.or(input.client_secret),
            scopes: self.scopes.unwrap_or(input.scopes),
            subject_claim: self.subject_claim.unwrap_or(input.subject_claim),
            email_claim: self.email_claim.unwrap_or(input.email_claim),
            email_verified_claim: self
                .email_verified_claim
                .unwrap_or(input.email_verified_claim),
            name_claim: self.name_claim.unwrap_or(input.name_claim),
            domains: self.domains.unwrap_or(input.domains),
            ..input
        })
    }
}

fn parse_preset(raw: &str) -> Result<Preset, String> {
    Preset::parse(raw)
        .ok_or_else(|| "expected google, microsoft, github, oidc, oauth2 or saml".into())
}

pub(super) async fn run(state: &AppState, command: ConnectionCommand) -> Result<(), String> {
    match command {
        ConnectionCommand::Create {
            tenant,
            preset,
            settings,
            provisioning,
            disabled,
        } => {
            let tenant = find(state, &tenant).await?;
            let input = ConnectionInput {
                provisioning,
                enabled: !disabled,
                ..settings.apply(ConnectionInput::new(preset))?
            };
            let made = admin::connections::create(state, &Actor::Cli, &tenant, input)
                .await
                .map_err(explain)?;
            println!(
                "Added the connection {} ({}) to tenant {}.",
                made.slug,
                made.preset.label(),
                tenant.slug
            );
            print_callback(state, &tenant, &made);
            Ok(())
        }
        ConnectionCommand::List { tenant } => {
            let tenant = find(state, &tenant).await?;
            let all = admin::connections::list(state, &Actor::Cli, &tenant)
                .await
                .map_err(describe)?;
            if all.is_empty() {
                println!("Tenant {} has no connections.", tenant.slug);
                return Ok(());
            }
            println!(
                "{:<24} {:<24} {:<9} {:<12} {:<30} name",
                "slug", "provider", "status", "new people", "domains"
            );
            for c in &all {
                println!(
                    "{:<24} {:<24} {:<9} {:<12} {:<30} {}",
                    c.slug,
                    c.preset.label(),
                    if c.enabled { "enabled" } else { "disabled" },
                    if c.provisioning { "created" } else { "refused" },
                    if c.domains.is_empty() {
                        "-".to_owned()
                    } else {
                        c.domains.join(",")
                    },
                    c.name
                );
            }
            let issuer = state.config.issuer(tenant.slug.as_str());
            println!(
                "Callback URLs: {}; SAML metadata: {}",
                callback_url(&issuer, "{slug}"),
                sp_metadata_url(&issuer, "{slug}")
            );
            Ok(())
        }
        ConnectionCommand::Update {
            tenant,
            connection,
            settings,
            provisioning,
            enabled,
        } => {
            let tenant = find(state, &tenant).await?;
            let current = admin::connections::get(state, &Actor::Cli, &tenant, &connection)
                .await
                .map_err(|e| unknown(e, &tenant, &connection))?;
            let before = ConnectionInput::of(&current);
            let input = ConnectionInput {
                provisioning: provisioning.map_or(before.provisioning, |p| p == OnOff::On),
                enabled: enabled.map_or(before.enabled, |e| e == OnOff::On),
                ..settings.apply(before)?
            };
            let saved = admin::connections::update(state, &Actor::Cli, &tenant, &connection, input)
                .await
                .map_err(explain)?;
            println!(
                "Saved the connection {} of tenant {}.",
                saved.slug, tenant.slug
            );
            if saved.slug != current.slug {
                print_callback(state, &tenant, &saved);
            }
            Ok(())
        }
        ConnectionCommand::Delete { tenant, connection } => {
            let tenant = find(state, &tenant).await?;
            admin::connections::delete(state, &Actor::Cli, &tenant, &connection)
                .await
                .map_err(|e| unknown(e, &tenant, &connection))?;
            println!(
                "Deleted the connection {connection} of tenant {}: people who signed in only through it have no way in left.",
                tenant.slug
            );
            Ok(())
        }
    }
}

async fn find(state: &AppState, slug: &str) -> Result<Tenant, String> {
    admin::tenants::find(state, slug).await.map_err(describe)
}

fn print_callback(state: &AppState, tenant: &Tenant, connection: &Connection) {
    let issuer = state.config.issuer(tenant.slug.as_str());
    if !connection.preset.is_oauth() {
        println!(
            "metadata URL: {}",
            sp_metadata_url(&issuer, &connection.slug)
        );
        println!("entity id: {}", connection.client_id);
        println!(
            "assertion consumer service (HTTP-POST): {}",
            acs_url(&issuer, &connection.slug)
        );
        println!("Register Tessera at the identity provider with its metadata URL.");
        return;
    }
    println!("callback URL: {}", callback_url(&issuer, &connection.slug));
    println!(
        "Register it at the provider as the redirect URI of the app whose client id you gave."
    );
}

/// A refusal names the flag it is about.
fn explain(e: AppError) -> String {
    match e {
        AppError::Invalid(invalid) => match invalid.field() {
            Some(field) => format!("--{}: {}", field.replace('_', "-"), invalid.message()),
            None => invalid.message().to_owned(),
        },
        e => describe(e),
    }
}

fn unknown(e: AppError, tenant: &Tenant, connection: &str) -> String {
    match e {
        AppError::NotFound => format!(
            "tenant {} has no connection {connection:?} (see connection list)",
            tenant.slug
        ),
        e => explain(e),
    }
}
