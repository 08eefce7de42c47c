//! The tenant's connections: other identity providers its people may sign in with (Google,
//! Microsoft Entra ID, GitHub, any OpenID Connect or OAuth 2 provider, or a SAML 2.0 identity
//! provider set up from its metadata), from the console
//! and the command line. Every change needs a recent sign-in and is audited; the client
//! secret is stored sealed and never shown, logged or audited.

use super::{audited, event_of, Actor};
use crate::auth::upstream::saml;
use crate::domain::connection::{
    check_attribute, check_claim, check_client_id, check_client_secret, check_directory,
    check_domains, check_name, check_scopes, check_slug, check_url, sp_metadata_url,
    MAX_CONNECTIONS,
};
use crate::domain::{ClaimMapping, Connection, Invalid, Preset, Protocol, Tenant, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoreError;
use base64::{engine::general_purpose::STANDARD, Engine};
use uuid::Uuid;

const MANAGE: &str = "connections:manage";

const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Entra ID's issuers are `{this}{directory id}/v2.0` (v2.0 endpoints).
const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com/";
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_USER: &str = "https://api.github.com/user";

/// A connection as typed in the console or given on the command line. Fields a preset fixes
/// are ignored; empty scopes and claims take the preset's defaults. No `Debug`: it may hold
/// the client secret.
#[derive(Clone)]
pub struct ConnectionInput {
    pub preset: Preset,
    pub slug: String,
    pub name: String,
    /// OpenID Connect provider: its issuer, exactly as its ID tokens name it.
    pub issuer: String,
    /// Microsoft Entra ID: the directory (tenant) id.
    pub directory: String,
    /// OAuth 2 provider: its three endpoints.
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// SAML identity provider: its metadata XML. Empty on a change: the current settings stay.
    pub metadata: String,
    /// The client id; for SAML, the entity id Tessera goes by (empty: its metadata URL).
    pub client_id: String,
    /// `None` or empty: none for a new connection, the current one for a change.
    pub client_secret: Option<String>,
    /// Separated by spaces.
    pub scopes: String,
    pub subject_claim: String,
    pub email_claim: String,
    pub email_verified_claim: String,
    pub name_claim: String,
    /// Separated by commas, spaces or lines.
    pub domains: String,
    pub provisioning: bool,
    pub enabled: bool,
}

impl ConnectionInput {
    /// An enabled connection of `preset` with every field empty.
    pub fn new(preset: Preset) -> Self {
        Self {
            preset,
            slug: String::new(),
            name: String::new(),
            issuer: String::new(),
            directory: String::new(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            userinfo_endpoint: String::new(),
            metadata: String::new(),
            client_id: String::new(),
            client_secret: None,
            scopes: String::new(),
            subject_claim: String::new(),
            email_claim: String::new(),
            email_verified_claim: String::new(),
            name_claim: String::new(),
            domains: String::new(),
            provisioning: false,
            enabled: true,
        }
    }

    /// The settings of `connection` as they would be typed, its secret left as it is.
    pub fn of(connection: &Connection) -> Self {
        let mut input = Self::new(connection.preset);
        match (&connection.protocol, connection.preset) {
            (Protocol::Oidc { issuer }, Preset::Microsoft) => {
                input.directory = microsoft_directory(issuer).unwrap_or_default().into();
            }
            (Protocol::Oidc { issuer }, _) => input.issuer.clone_from(issuer),
            (
                Protocol::OAuth2 {
                    authorization_endpoint,
                    token_endpoint,
                    userinfo_endpoint,
                },
                _,
            ) => {
                input
                    .authorization_endpoint
                    .clone_from(authorization_endpoint);
                input.token_endpoint.clone_from(token_endpoint);
                input.userinfo_endpoint.clone_from(userinfo_endpoint);
            }
            // The metadata is not kept: an empty field keeps the provider as it is.
            (Protocol::Saml { .. }, _) => {}
        }
        if connection.preset.maps_claims() {
            let claims = &connection.claims;
            input.subject_claim.clone_from(&claims.subject);
            input.email_claim.clone_from(&claims.email);
            input
                .email_verified_claim
                .clone_from(&claims.email_verified);
            input.name_claim.clone_from(&claims.name);
        }
        Self {
            slug: connection.slug.clone(),
            name: connection.name.clone(),
            client_id: connection.client_id.clone(),
            scopes: connection.scopes.join(" "),
            domains: connection.domains.join(" "),
            provisioning: connection.provisioning,
            enabled: connection.enabled,
            ..input
        }
    }
}

/// The client secret sealed for storage in `Connection::client_secret`: AES-256-GCM under the
/// installation's key, bound to the connection, base64.
pub fn seal_secret(state: &AppState, connection: Uuid, secret: &str) -> String {
    STANDARD.encode(
        state
            .secrets
            .seal(secret.as_bytes(), &format!("connection:{connection}")),
    )
}

/// The tenant's connections in slug order, disabled ones included.
pub async fn list(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Vec<Connection>> {
    actor.require(tenant, MANAGE)?;
    Ok(state.store.connections.list(tenant.id).await?)
}

/// The connection `slug`; `NotFound` when the tenant has none of that name.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    slug: &str,
) -> AppResult<Connection> {
    actor.require(tenant, MANAGE)?;
    state
        .store
        .connections
        .by_slug(tenant.id, slug)
        .await?
        .ok_or(AppError::NotFound)
}

/// Adds a connection. Who may sign in, and as whom, is sensitive: it needs a recent sign-in.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    input: ConnectionInput,
) -> AppResult<Connection> {
    actor.require_fresh(tenant, MANAGE)?;
    let others = state.store.connections.list(tenant.id).await?;
    if others.len() >= MAX_CONNECTIONS {
        return Err(AppError::invalid(format!(
            "An organisation has at most {MAX_CONNECTIONS} connections: delete one first."
        )));
    }
    let connection = build(state, tenant, &input, None)?;
    check_unique(&others, &connection)?;
    let event = event_of(
        actor,
        tenant.id,
        "connection.created",
        target(&connection.slug),
    )
    .reason(summary(&connection));
    let change = state.store.connections.create(tenant.id, &connection);
    audited(state, actor, event, change)
        .await
        .map_err(|e| slug_taken(e, &connection.slug))?;
    Ok(connection)
}

/// Replaces the settings of the connection `slug`; its kind of provider stays, and an empty
/// secret keeps the current one.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    slug: &str,
    input: ConnectionInput,
) -> AppResult<Connection> {
    actor.require_fresh(tenant, MANAGE)?;
    let before = get(state, actor, tenant, slug).await?;
    if input.preset != before.preset {
        let fixed = Invalid::new(format!(
            "This connection is to {}: add a new connection for another provider.",
            before.preset.label()
        ));
        return Err(fixed.on("preset").into());
    }
    let connection = build(state, tenant, &input, Some(&before))?;
    let others = state.store.connections.list(tenant.id).await?;
    check_unique(&others, &connection)?;
    let event = event_of(actor, tenant.id, "connection.updated", target(&before.slug))
        .reason(changes(&before, &connection));
    let change = state.store.connections.update(tenant.id, &connection);
    audited(state, actor, event, change)
        .await
        .map_err(|e| slug_taken(e, &connection.slug))?;
    Ok(connection)
}

/// Deletes the connection `slug` and the identities linked through it: whoever signed in only
/// that way has no way in left.
pub async fn delete(state: &AppState, actor: &Actor, tenant: &Tenant, slug: &str) -> AppResult<()> {
    actor.require_fresh(tenant, MANAGE)?;
    let connection = get(state, actor, tenant, slug).await?;
    let event = event_of(actor, tenant.id, "connection.deleted", target(slug)).reason(format!(
        "preset={} name={:?}",
        connection.preset.as_str(),
        connection.name
    ));
    let change = state.store.connections.delete(tenant.id, connection.id);
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The connection `input` describes, each field checked; `before` is the connection it
/// replaces (its id, creation and secret carry over).
fn build(
    state: &AppState,
    tenant: &Tenant,
    input: &ConnectionInput,
    before: Option<&Connection>,
) -> AppResult<Connection> {
    let slug = check_slug(&input.slug)?;
    let name = check_name(&input.name)?;
    let protocol = match (input.preset, before) {
        (Preset::Saml, Some(before)) if input.metadata.trim().is_empty() => before.protocol.clone(),
        _ => protocol(state, input)?,
    };
    let client_id = match input.preset {
        Preset::Saml if input.client_id.trim().is_empty() => {
            sp_metadata_url(&state.config.issuer(tenant.slug.as_str()), &slug)
        }
        _ => check_client_id(&input.client_id)?,
    };
    let scopes = scopes(input)?;
    let claims = claims(input)?;
    let domains = check_domains(&input.domains)?;
    let id = before.map_or_else(Uuid::now_v7, |b| b.id);
    let client_secret = secret(state, input, id, before)?;
    let now = Timestamp::now();
    Ok(Connection {
        id,
        tenant_id: tenant.id,
        slug,
        name,
        preset: input.preset,
        protocol,
        client_id,
        client_secret,
        scopes,
        claims,
        domains,
        provisioning: input.provisioning,
        enabled: input.enabled,
        created_at: before.map_or(now, |b| b.created_at),
        updated_at: now,
    })
}

fn protocol(state: &AppState, input: &ConnectionInput) -> Result<Protocol, Invalid> {
    let url = |raw: &str, field, what| provider_url(state, raw, field, what);
    Ok(match input.preset {
        Preset::Google => Protocol::Oidc {
            issuer: GOOGLE_ISSUER.into(),
        },
        Preset::Microsoft => Protocol::Oidc {
            issuer: format!(
                "{MICROSOFT_LOGIN}{}/v2.0",
                check_directory(&input.directory)?
            ),
        },
        Preset::GitHub => Protocol::OAuth2 {
            authorization_endpoint: GITHUB_AUTHORIZE.into(),
            token_endpoint: GITHUB_TOKEN.into(),
            userinfo_endpoint: GITHUB_USER.into(),
        },
        // Kept as typed: it must equal the `iss` of the provider's tokens to the letter.
        Preset::Oidc => Protocol::Oidc {
            issuer: url(&input.issuer, "issuer", "The issuer")?,
        },
        Preset::OAuth2 => Protocol::OAuth2 {
            authorization_endpoint: url(
                &input.authorization_endpoint,
                "authorization_endpoint",
                "The authorization endpoint",
            )?,
            token_endpoint: url(
                &input.token_endpoint,
                "token_endpoint",
                "The token endpoint",
            )?,
            userinfo_endpoint: url(
                &input.userinfo_endpoint,
                "userinfo_endpoint",
                "The userinfo endpoint",
            )?,
        },
        Preset::Saml => {
            // Browsers go there, not Tessera: an https address, as any provider's.
            let loopback_http = state.config.fetch_allow_private_networks;
            let sso =
                |raw: &str| check_url(raw, "metadata", "The single sign-on address", loopback_http);
            let idp = saml::parse_metadata(&input.metadata, sso)?;
            Protocol::Saml {
                entity_id: idp.entity_id,
                sso_url: idp.sso_url,
                certificates: idp.certificates,
            }
        }
    })
}

/// The directory id in an Entra ID issuer.
fn microsoft_directory(issuer: &str) -> Option<&str> {
    issuer.strip_prefix(MICROSOFT_LOGIN)?.strip_suffix("/v2.0")
}

/// An address of the provider, which Tessera will call: checked as the fetch will be, so that
/// a private address is refused now rather than at each sign-in.
fn provider_url(
    state: &AppState,
    raw: &str,
    field: &'static str,
    what: &str,
) -> Result<String, Invalid> {
    let loopback_http = state.config.fetch_allow_private_networks;
    let url = check_url(raw, field, what, loopback_http)?;
    match state.fetcher.refused(&url) {
        Some(why) => Err(Invalid::new(format!("{what} is refused: {why}.")).on(field)),
        None => Ok(url),
    }
}

/// The scopes typed, else the preset's; an OpenID Connect provider always gets `openid`.
fn scopes(input: &ConnectionInput) -> Result<Vec<String>, Invalid> {
    let typed = input.scopes.trim();
    let mut raw = if typed.is_empty() {
        input.preset.default_scopes().to_owned()
    } else {
        typed.to_owned()
    };
    if input.preset.is_oidc() && !raw.split_whitespace().any(|s| s == "openid") {
        raw = format!("openid {raw}");
    }
    check_scopes(&raw)
}

fn claims(input: &ConnectionInput) -> Result<ClaimMapping, Invalid> {
    type Check = fn(&str, &'static str) -> Result<String, Invalid>;
    let (defaults, check): (ClaimMapping, Check) = match input.preset {
        // GitHub's /user answers `id`; the flow reads whether the email is verified from
        // its /user/emails.
        Preset::GitHub => {
            return Ok(ClaimMapping {
                subject: "id".into(),
                ..ClaimMapping::default()
            })
        }
        preset if !preset.maps_claims() => return Ok(ClaimMapping::default()),
        Preset::Saml => (ClaimMapping::saml(), check_attribute),
        _ => (ClaimMapping::default(), check_claim),
    };
    // The name typed, or the default when none is.
    let pick = |raw: &str, default: String, field| {
        if raw.trim().is_empty() {
            Ok(default)
        } else {
            check(raw, field)
        }
    };
    Ok(ClaimMapping {
        subject: pick(&input.subject_claim, defaults.subject, "subject_claim")?,
        email: pick(&input.email_claim, defaults.email, "email_claim")?,
        email_verified: pick(
            &input.email_verified_claim,
            defaults.email_verified,
            "email_verified_claim",
        )?,
        name: pick(&input.name_claim, defaults.name, "name_claim")?,
    })
}

/// The sealed secret: the one typed, else the current one; required where the preset's
/// provider registers only confidential clients.
fn secret(
    state: &AppState,
    input: &ConnectionInput,
    id: Uuid,
    before: Option<&Connection>,
) -> Result<Option<String>, Invalid> {
    if !input.preset.is_oauth() {
        return Ok(None);
    }
    let typed = check_client_secret(input.client_secret.as_deref().unwrap_or_default())?;
    let sealed = match typed {
        Some(secret) => Some(seal_secret(state, id, &secret)),
        None => before.and_then(|b| b.client_secret.clone()),
    };
    if sealed.is_none() && input.preset.needs_secret() {
        let missing = Invalid::new(format!(
            "Give the client secret {} shows for your app.",
            input.preset.label()
        ));
        return Err(missing.on("client_secret"));
    }
    Ok(sealed)
}

/// Slugs are unique in the tenant, and an email domain leads to one provider only.
fn check_unique(others: &[Connection], connection: &Connection) -> Result<(), Invalid> {
    for other in others.iter().filter(|o| o.id != connection.id) {
        if other.slug == connection.slug {
            return Err(taken_slug(&connection.slug));
        }
        if let Some(domain) = connection
            .domains
            .iter()
            .find(|d| other.domains.contains(d))
        {
            let owned = Invalid::new(format!(
                "{domain} belongs to the connection {} ({}) already: a domain leads to one provider only.",
                other.name, other.slug
            ));
            return Err(owned.on("domains"));
        }
    }
    Ok(())
}

fn taken_slug(slug: &str) -> Invalid {
    Invalid::new(format!("Another connection has the short name {slug}.")).on("slug")
}

/// A store's `Conflict` on a connection is its slug, taken meanwhile.
fn slug_taken(e: StoreError, slug: &str) -> AppError {
    match e {
        StoreError::Conflict(_) => taken_slug(slug).into(),
        other => other.into(),
    }
}

fn target(slug: &str) -> String {
    format!("connection:{slug}")
}

/// A connection's settings as `key=value` pairs for the audit log, never the secret itself.
fn settings(c: &Connection) -> Vec<(&'static str, String)> {
    let provider = match &c.protocol {
        Protocol::Oidc { issuer } => issuer.clone(),
        Protocol::OAuth2 {
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
        } => format!("{authorization_endpoint},{token_endpoint},{userinfo_endpoint}"),
        Protocol::Saml {
            entity_id,
            sso_url,
            certificates,
        } => format!(
            "{entity_id},{sso_url},certificates:{}",
            certificates
                .iter()
                .map(|c| crate::crypto::sha256_hex(c)[..16].to_owned())
                .collect::<Vec<_>>()
                .join("+")
        ),
    };
    let claims = &c.claims;
    vec![
        ("preset", c.preset.as_str().into()),
        ("slug", c.slug.clone()),
        ("name", format!("{:?}", c.name)),
        ("provider", provider),
        ("client_id", format!("{:?}", c.client_id)),
        (
            "client_secret",
            if c.client_secret.is_some() {
                "set"
            } else {
                "none"
            }
            .into(),
        ),
        ("scopes", c.scopes.join(",")),
        (
            "claims",
            format!(
                "{},{},{},{}",
                claims.subject, claims.email, claims.email_verified, claims.name
            ),
        ),
        ("domains", c.domains.join(",")),
        ("provisioning", c.provisioning.to_string()),
        ("enabled", c.enabled.to_string()),
    ]
}

fn summary(c: &Connection) -> String {
    pairs(settings(c))
}

/// What an update changed; a new secret shows as `client_secret=replaced`.
fn changes(before: &Connection, after: &Connection) -> String {
    let mut changed: Vec<(&'static str, String)> = settings(before)
        .into_iter()
        .zip(settings(after))
        .filter(|(old, new)| old != new)
        .map(|(_, new)| new)
        .collect();
    // Both are "set"; the sealed secrets differ only when a new one was given.
    if before.client_secret.is_some() && before.client_secret != after.client_secret {
        changed.push(("client_secret", "replaced".into()));
    }
    if changed.is_empty() {
        "nothing changed".into()
    } else {
        pairs(changed)
    }
}

fn pairs(pairs: Vec<(&'static str, String)>) -> String {
    pairs
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}
