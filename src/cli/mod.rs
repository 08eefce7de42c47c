//! The command line: `tessera serve` (the default), `migrate`, and provisioning commands.

mod connections;
mod startup;

use crate::admin::{self, clients::NewClient, users::NewUser, Actor};
use crate::domain::{ExchangePolicy, GrantType, Placement, SigningAlg};
use crate::error::AppError;
use clap::{Args, Parser, Subcommand};
use std::{io::Read, path::PathBuf, process::ExitCode};

pub use startup::{bootstrap, build_state, StartupError};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a multi-tenant OpenID Connect identity provider"
)]
#[command(after_help = "Configuration comes from environment variables; see README.md.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per run: the size of `client create` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
    /// Manage tenants (organisations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users of a tenant.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth/OIDC clients (applications) of a tenant.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the other identity providers a tenant's people may sign in with (connections:
    /// Google, Microsoft Entra ID, GitHub, any OpenID Connect or OAuth 2 provider).
    #[command(subcommand)]
    Connection(connections::ConnectionCommand),
    /// Show and rotate a tenant's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the operators of the installation, who run the platform console at /admin.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Write a consistent copy of the SQLite database to FILE, also while the server runs
    /// (PostgreSQL: use pg_dump; MongoDB: use mongodump).
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Do not apply pending migrations at start-up.
    #[arg(long)]
    no_migrate: bool,
}

#[derive(Args)]
struct MigrateArgs {
    /// Also migrate every tenant's own database now (else each is migrated when first used).
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; its issuer is {TESSERA_PUBLIC_URL}/t/{slug}.
    Create {
        /// URL name: 2-63 lower-case letters, digits and hyphens.
        slug: String,
        /// Display name shown on sign-in pages.
        #[arg(long)]
        name: String,
        /// Where its data lives: shared (the main database) or dedicated (a database of its
        /// own). Default: TESSERA_TENANT_PLACEMENT, else shared.
        #[arg(long, value_parser = parse_placement)]
        placement: Option<Placement>,
    },
    /// Move a tenant's data between the main database and a database of its own. It is
    /// copied while the tenant serves; the tenant is then suspended while what changed
    /// meanwhile is copied and the registry switches (seconds for thousands of people).
    /// Refresh tokens move with it; sign-ins in progress start again.
    Move {
        /// Slug of the tenant, e.g. acme.
        slug: String,
        /// Where to: shared (the main database) or dedicated (a new database of its own).
        #[arg(long, value_parser = parse_placement)]
        to: Placement,
    },
    /// Set the tenant's sign-in policy: require a second factor, and which kinds are allowed.
    Policy {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// Require a second factor of everyone; people without one set it up at next sign-in.
        #[arg(long, value_enum)]
        require_mfa: Option<OnOff>,
        /// Comma-separated factor kinds people may use: totp, email_code, passkey.
        #[arg(long)]
        factors: Option<String>,
        /// Let applications register themselves without an initial access token (open
        /// dynamic client registration, RFC 7591; limited to 20 an hour per address).
        #[arg(long, value_enum)]
        open_registration: Option<OnOff>,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator: a user of the reserved tenant _ops, who signs in at /t/_ops/login
    /// and manages tenants at /admin. A password is generated and printed once.
    Create {
        /// The operator's email address.
        #[arg(long)]
        email: String,
        /// Display name (default: Operator).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the tenant's signing keys and where each is in its rotation.
    List {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
    },
    /// Start a rotation: a new key is published in the JWKS now and signs from --activate-in
    /// seconds on; the old key stays published until what it signed has expired.
    Rotate {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// Which key to rotate: ES256 (default), EdDSA or RS256.
        #[arg(long, value_parser = parse_alg, default_value = "ES256")]
        alg: SigningAlg,
        /// Seconds between publishing the new key and signing with it; give relying parties
        /// time to refresh their cached JWKS.
        #[arg(long, default_value_t = crate::state::keys::PUBLISH_BEFORE_USE_SECS)]
        activate_in: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed once.
    Create {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Give the user the tenant's admin role.
        #[arg(long)]
        admin: bool,
    },
    /// Remove every second factor of a user who lost them all (audited). They set one up again
    /// at their next sign-in if the tenant requires it.
    ResetMfa {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Why, for the audit log (e.g. the support ticket).
        #[arg(long)]
        reason: String,
    },
}

#[allow(clippy::large_enum_variant)] // as `Command`
#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client. Confidential clients get a secret, printed once.
    Create {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// The public identifier the application sends as client_id.
        #[arg(long = "client-id")]
        client_id: String,
        /// Name shown to people on the consent page.
        #[arg(long)]
        name: String,
        /// Exact redirect URI; repeat for several (required for authorization_code).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (single-page or native app): no secret, PKCE always required.
        #[arg(long)]
        public: bool,
        /// Allowed grant; repeat for several (default: authorization_code).
        #[arg(long = "grant", value_parser = parse_grant)]
        grants: Vec<GrantType>,
        /// Allowed scope; repeat for several (default: openid profile email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// RFC 8707 resource (API) the client may ask tokens for; repeat for several.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// How its ID tokens are signed: ES256 (default), EdDSA or RS256.
        #[arg(long = "id-token-alg", value_parser = parse_alg, default_value = "ES256")]
        id_token_alg: SigningAlg,
        /// Where the client may send people after they sign out; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are posted when a person signs out (back-channel logout).
        #[arg(long = "backchannel-logout-uri")]
        backchannel_logout_uri: Option<String>,
        /// Accept only pushed authorization requests (RFC 9126) from this client.
        #[arg(long = "require-par")]
        require_par: bool,
        /// Refuse token requests without a DPoP proof: its tokens are sender-constrained
        /// (RFC 9449 §5.2, dpop_bound_access_tokens).
        #[arg(long = "require-dpop")]
        require_dpop: bool,
        /// Accept only DPoP proofs carrying a nonce this server issued (RFC 9449 §8).
        #[arg(long = "require-dpop-nonce")]
        require_dpop_nonce: bool,
        /// Accept only authorization requests signed by the client (RFC 9101 request objects).
        #[arg(long = "require-signed-request-object")]
        require_signed_request_object: bool,
        /// An audience (resource URI) this client may get by token exchange (RFC 8693); repeat for several.
        #[arg(long = "exchange-audience", value_name = "URI")]
        exchange_audiences: Vec<String>,
        /// A scope this client may get by token exchange; repeat for several.
        #[arg(long = "exchange-scope", value_name = "SCOPE")]
        exchange_scopes: Vec<String>,
        /// A file with the client's public keys (JWK Set): it authenticates with
        /// private_key_jwt instead of a secret.
        #[arg(long = "jwks-file")]
        jwks_file: Option<PathBuf>,
        /// An https URL where the client publishes its public keys (RFC 7591 jwks_uri), instead
        /// of --jwks-file: the same, fetched when its JWTs are checked.
        #[arg(long = "jwks-uri", value_name = "URL", conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
    },
    /// Give a client a new secret, printed once; the old one works until the grace period ends.
    RotateSecret {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        #[arg(long = "client-id")]
        client_id: String,
        /// Seconds the old secret keeps working.
        #[arg(long = "grace-secs", default_value_t = 86400)]
        grace_secs: i64,
    },
    /// Initial access tokens, which let applications register themselves (dynamic client
    /// registration, RFC 7591) a limited number of times.
    #[command(subcommand)]
    InitialToken(InitialTokenCommand),
}

#[derive(Subcommand)]
enum InitialTokenCommand {
    /// Make a token, printed once. Applications send it as `Authorization: Bearer <token>`
    /// with `POST {issuer}/register`.
    Create {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// What the token is for, e.g. "Partner onboarding" (1 to 60 characters).
        #[arg(long)]
        name: String,
        /// How many applications it may register: 1 to 1000.
        #[arg(long)]
        uses: i64,
        /// How many days it works: 1, 7, 30 or 90.
        #[arg(long)]
        days: i64,
    },
    /// List the tenant's tokens: id, status, registrations made of those allowed, expiry.
    List {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a token at once; applications it registered stay.
    Revoke {
        /// Slug of the tenant, e.g. default.
        #[arg(long)]
        tenant: String,
        /// The token's id, as `initial-token list` shows it.
        id: String,
    },
}

fn parse_alg(raw: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(raw).ok_or_else(|| "expected ES256, EdDSA or RS256".into())
}

fn parse_placement(raw: &str) -> Result<Placement, String> {
    Placement::parse(raw).map_err(|_| "expected shared or dedicated".into())
}

fn parse_grant(raw: &str) -> Result<GrantType, String> {
    GrantType::parse(raw).ok_or_else(|| {
        "expected authorization_code, refresh_token, client_credentials, \
             urn:ietf:params:oauth:grant-type:device_code or \
             urn:ietf:params:oauth:grant-type:token-exchange"
            .into()
    })
}

pub async fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's message without its usage block; `--help` has the rest.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect();
            let line = message.join(" ");
            eprintln!("{line} (see --help)");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    if let Err(message) = init_tracing(matches!(command, Command::Serve(_))) {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(server: bool) -> Result<(), String> {
    let default = if server { "info" } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let format = crate::config::LogFormat::from_lookup(|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
    .map_err(|e| format!("invalid configuration: {e}"))?;
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::config::LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // The request's span (`http::router`) carries its id into every line logged for it.
        crate::config::LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}

fn describe(e: AppError) -> String {
    match e {
        AppError::Invalid(m) => m.to_string(),
        AppError::Conflict(m) => m,
        AppError::NotFound => "not found".into(),
        AppError::Forbidden | AppError::Reauthenticate => "not allowed".into(),
        AppError::Unavailable(m) => format!("storage unavailable ({m}); try again when it is back"),
        AppError::Internal(m) => format!("internal error: {m}"),
    }
}

async fn execute(command: Command) -> Result<(), String> {
    let config =
        crate::config::Config::from_env().map_err(|e| format!("invalid configuration: {e}"))?;
    if let Command::Backup { file } = &command {
        return backup(&config, file).await;
    }
    let serving = matches!(command, Command::Serve(_));
    let migrate = !matches!(&command, Command::Serve(ServeArgs { no_migrate: true }));
    let state = build_state(config, serving, migrate)
        .await
        .map_err(|e| e.to_string())?;
    if let Command::Migrate(MigrateArgs { all }) = &command {
        if *all {
            let opened = admin::tenants::open_every_database(&state, &|line| eprintln!("{line}"))
                .await
                .map_err(describe)?;
            println!("Migrated the main database and {opened} tenant database(s).");
        }
        return Ok(());
    }
    bootstrap(&state).await.map_err(describe)?;
    match command {
        Command::Serve(_) => startup::serve(state).await.map_err(|e| e.to_string()),
        Command::Migrate(_) | Command::Backup { .. } => Ok(()),
        Command::Tenant(TenantCommand::Create {
            slug,
            name,
            placement,
        }) => {
            let placement = placement.unwrap_or_else(|| state.config.tenant_placement.clone());
            let tenant =
                admin::tenants::create_placed(&state, &Actor::Cli, &slug, &name, placement)
                    .await
                    .map_err(describe)?;
            let place = if tenant.placement.is_dedicated() {
                "in a database of its own"
            } else {
                "in the main database"
            };
            println!("Created tenant {} ({}) {place}.", tenant.slug, tenant.name);
            println!("issuer: {}", state.config.issuer(tenant.slug.as_str()));
            Ok(())
        }
        Command::Operator(OperatorCommand::Create { email, name }) => {
            let (ops, user, password) =
                admin::platform::create_operator(&state, &Actor::Cli, &email, name.as_deref())
                    .await
                    .map_err(describe)?;
            println!("Created operator {}.", user.email);
            println!("user_id: {}", user.id);
            println!("password: {password}");
            println!("This password is shown only once.");
            println!(
                "Sign in at {}/login, then open {}/admin.",
                state.config.issuer(ops.slug.as_str()),
                state.config.public_url.as_str().trim_end_matches('/')
            );
            Ok(())
        }
        Command::User(UserCommand::Create {
            tenant,
            email,
            name,
            password_stdin,
            admin,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_to_string(&mut line)
                    .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
                let first = line.lines().next().unwrap_or_default().to_owned();
                (first, false)
            } else {
                (crate::crypto::random_token(18), true)
            };
            let new = NewUser {
                email: &email,
                name: name.as_deref(),
                password: Some(password.clone()),
                admin,
            };
            let user = admin::users::create(&state, &Actor::Cli, &tenant, new)
                .await
                .map_err(describe)?;
            println!("Created user {} in tenant {}.", user.email, tenant.slug);
            println!("user_id: {}", user.id);
            if generated {
                println!("password: {password}");
                println!("This password is shown only once.");
            }
            Ok(())
        }
        Command::User(UserCommand::ResetMfa {
            tenant,
            email,
            reason,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let removed = admin::users::reset_mfa(&state, &Actor::Cli, &tenant, &email, &reason)
                .await
                .map_err(describe)?;
            println!(
                "Removed {removed} factor(s) of {email} in tenant {}. The user was told by email.",
                tenant.slug
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::Move { slug, to }) => {
            let moved = admin::tenants::relocate(&state, &Actor::Cli, &slug, to.clone(), &|line| {
                eprintln!("{line}")
            })
            .await
            .map_err(describe)?;
            match moved {
                None => println!("Tenant {slug} is {} already.", to.as_str()),
                Some(moved) => println!(
                    "Moved tenant {slug} to {} storage (people: {}, applications: {}, audit events: {}, refresh tokens: {}). It is serving again.",
                    to.as_str(),
                    moved.people,
                    moved.clients,
                    moved.events,
                    moved.refresh_tokens
                ),
            }
            Ok(())
        }
        Command::Tenant(TenantCommand::Policy {
            tenant,
            require_mfa,
            factors,
            open_registration,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let allowed = match factors {
                None => None,
                Some(list) => Some(
                    list.split(',')
                        .map(str::trim)
                        .map(|k| {
                            crate::domain::FactorKind::parse(k).ok_or_else(|| {
                                format!("{k:?} is not one of totp, email_code, passkey")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            let require = require_mfa.map(|v| v == OnOff::On);
            let mut changed =
                if require.is_some() || allowed.is_some() || open_registration.is_none() {
                    admin::tenants::set_mfa_policy(&state, &Actor::Cli, &tenant, require, allowed)
                        .await
                        .map_err(describe)?
                } else {
                    tenant
                };
            if let Some(open) = open_registration {
                let mut settings = changed.settings.clone();
                settings.open_registration = open == OnOff::On;
                changed = admin::tenants::update_policies(&state, &Actor::Cli, &changed, settings)
                    .await
                    .map_err(describe)?;
            }
            let s = &changed.settings;
            println!(
                "Tenant {}: second factor {}; allowed: {}; open registration of applications {}.",
                changed.slug,
                if s.require_mfa {
                    "required"
                } else {
                    "optional"
                },
                s.allowed_factors
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if s.open_registration { "on" } else { "off" }
            );
            Ok(())
        }
        Command::Keys(KeysCommand::List { tenant }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let keys = admin::keys::list(&state, &tenant).await.map_err(describe)?;
            println!("{:<44} {:<6} {:<8} since / until", "kid", "alg", "state");
            for key in keys {
                let when = match key.retires_at {
                    Some(until) => format!("published until {}", until.unix()),
                    None => format!("from {}", key.activates_at.unix()),
                };
                println!(
                    "{:<44} {:<6} {:<8} {when}",
                    key.kid,
                    key.alg.as_str(),
                    key.state.as_str()
                );
            }
            println!("(times are Unix seconds)");
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate {
            tenant,
            alg,
            activate_in,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let key = admin::keys::rotate(&state, &Actor::Cli, &tenant, alg, activate_in)
                .await
                .map_err(describe)?;
            println!(
                "Published the new {} key {} for tenant {}; it signs from {} (in {activate_in} s).",
                alg.as_str(),
                key.kid,
                tenant.slug,
                key.activates_at.unix()
            );
            Ok(())
        }
        Command::Client(ClientCommand::Create {
            tenant,
            client_id,
            name,
            redirect_uris,
            public,
            grants,
            scopes,
            resources,
            id_token_alg,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            require_par,
            require_dpop,
            require_dpop_nonce,
            require_signed_request_object,
            exchange_audiences,
            exchange_scopes,
            jwks_file,
            jwks_uri,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let jwks = match jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read the JWK Set {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let new = NewClient {
                client_id,
                name,
                redirect_uris,
                public,
                grants,
                scopes,
                resources,
                id_token_alg,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                require_par,
                require_dpop,
                require_dpop_nonce,
                require_signed_request_object,
                exchange: ExchangePolicy {
                    audiences: exchange_audiences,
                    scopes: exchange_scopes,
                },
                jwks,
                jwks_uri,
                logo_uri: None,
                secret_method: None,
            };
            let (client, secret) = admin::clients::create(&state, &Actor::Cli, &tenant, new)
                .await
                .map_err(describe)?;
            println!(
                "Registered {} client {} in tenant {}.",
                client.client_type.as_str(),
                client.client_id,
                tenant.slug
            );
            println!("issuer: {}", state.config.issuer(tenant.slug.as_str()));
            println!("client_id: {}", client.client_id);
            println!(
                "token_endpoint_auth_method: {}",
                client.auth_method.as_str()
            );
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!("Store the secret now: it is shown only once.");
            }
            Ok(())
        }
        Command::Client(ClientCommand::RotateSecret {
            tenant,
            client_id,
            grace_secs,
        }) => {
            let tenant = admin::tenants::find(&state, &tenant)
                .await
                .map_err(describe)?;
            let secret =
                admin::clients::rotate_secret(&state, &Actor::Cli, &tenant, &client_id, grace_secs)
                    .await
                    .map_err(describe)?;
            println!("client_secret: {secret}");
            println!("Store the secret now: it is shown only once. The old secret works for {grace_secs} more seconds.");
            Ok(())
        }
        Command::Client(ClientCommand::InitialToken(command)) => {
            initial_token(&state, command).await
        }
        Command::Connection(command) => connections::run(&state, command).await,
    }
}

async fn initial_token(
    state: &crate::state::AppState,
    command: InitialTokenCommand,
) -> Result<(), String> {
    use admin::initial_tokens;
    match command {
        InitialTokenCommand::Create {
            tenant,
            name,
            uses,
            days,
        } => {
            let tenant = admin::tenants::find(state, &tenant)
                .await
                .map_err(describe)?;
            let made = initial_tokens::create(state, &Actor::Cli, &tenant, &name, uses, days)
                .await
                .map_err(describe)?;
            let issuer = state.config.issuer(tenant.slug.as_str());
            println!(
                "Made the initial access token {:?} in tenant {}: {} registration(s) until {}.",
                made.token.name,
                tenant.slug,
                made.token.max_uses,
                made.token.expires_at.rfc3339()
            );
            println!("id: {}", made.token.id);
            println!("token: {}", made.secret);
            println!("This token is shown only this once.");
            println!("Applications send it as `Authorization: Bearer <token>` with `POST {issuer}/register`.");
            Ok(())
        }
        InitialTokenCommand::List { tenant } => {
            let tenant = admin::tenants::find(state, &tenant)
                .await
                .map_err(describe)?;
            let tokens = initial_tokens::list(state, &Actor::Cli, &tenant)
                .await
                .map_err(describe)?;
            if tokens.is_empty() {
                println!("Tenant {} has no initial access tokens.", tenant.slug);
                return Ok(());
            }
            let now = crate::domain::Timestamp::now();
            println!(
                "{:<36} {:<8} {:<11} {:<10} {:<20} name",
                "id", "status", "uses", "hint", "expires"
            );
            for t in tokens {
                println!(
                    "{:<36} {:<8} {:<11} {:<10} {:<20} {}",
                    t.id,
                    t.status(now).label(),
                    format!("{} of {}", t.uses, t.max_uses),
                    t.hint,
                    t.expires_at.rfc3339(),
                    t.name
                );
            }
            Ok(())
        }
        InitialTokenCommand::Revoke { tenant, id } => {
            let tenant = admin::tenants::find(state, &tenant)
                .await
                .map_err(describe)?;
            let parsed = id
                .parse::<uuid::Uuid>()
                .map_err(|_| format!("{id:?} is not a token id (see initial-token list)"))?;
            initial_tokens::revoke(state, &Actor::Cli, &tenant, parsed)
                .await
                .map_err(|e| match e {
                    AppError::NotFound => {
                        format!(
                            "tenant {} has no token {id}, or it is revoked already",
                            tenant.slug
                        )
                    }
                    e => describe(e),
                })?;
            println!("Revoked the initial access token {id}: applications can no longer register with it.");
            Ok(())
        }
    }
}

async fn backup(config: &crate::config::Config, file: &std::path::Path) -> Result<(), String> {
    let crate::config::StorageConfig::Sqlite { path } = &config.storage else {
        return Err("tessera backup copies SQLite databases. For PostgreSQL use pg_dump, for MongoDB mongodump (see README.md)".into());
    };
    if file.exists() {
        return Err(format!(
            "{} already exists; choose a new file",
            file.display()
        ));
    }
    if !path.exists() {
        return Err(format!(
            "there is no database at {} (STORAGE_SQLITE_PATH)",
            path.display()
        ));
    }
    let (store, _) =
        crate::store::sqlite::SqliteStore::open(path, crate::store::Access::Tool, false)
            .await
            .map_err(|e| e.to_string())?;
    store.backup(file).await.map_err(|e| e.to_string())?;
    println!("Wrote a copy of {} to {}.", path.display(), file.display());
    let key = if config.has_encryption_key() {
        "TESSERA_ENCRYPTION_KEY"
    } else {
        "encryption.key next to the database"
    };
    println!(
        "Keep the encryption key ({key}) too: without it the secrets in the copy cannot be read."
    );
    Ok(())
}
