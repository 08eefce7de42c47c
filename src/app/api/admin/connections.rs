//! The console's connections: other identity providers the organisation's people may sign in
//! with, added from a preset, changed, and deleted. The client secret is written, never shown.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::{
    admin::connections::{self, ConnectionInput},
    app::api::server::{self, Ctx},
    auth::upstream::saml::certificate_summary,
    domain::{connection::check_slug, Connection, Preset, Protocol},
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const MANAGE: &str = "connections:manage";

/// One connection as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionLine {
    pub slug: String,
    pub name: String,
    /// The kind of provider, in words.
    pub provider: String,
    /// Its email domains, separated by commas.
    pub domains: String,
    pub enabled: bool,
    pub provisioning: bool,
}

/// The fields of a connection's form, as typed (`preset` as [`crate::domain::Preset`] names
/// it); the secret is never among them, only whether there is one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionForm {
    pub preset: String,
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub directory: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// A SAML identity provider's metadata, as pasted (never filled from what is stored).
    pub metadata: String,
    pub client_id: String,
    pub has_secret: bool,
    pub scopes: String,
    pub subject_claim: String,
    pub email_claim: String,
    pub email_verified_claim: String,
    pub name_claim: String,
    pub domains: String,
    pub provisioning: bool,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsPage {
    pub connections: Vec<ConnectionLine>,
    /// The tenant's issuer, below which are the connections' callback URLs.
    pub issuer: String,
    /// Whether plain `http` to a loopback host is allowed (development installations).
    pub allow_http: bool,
    /// The tenant has as many connections as it may.
    pub full: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionPage {
    pub form: ConnectionForm,
    pub issuer: String,
    pub allow_http: bool,
    /// A SAML connection's identity provider, as its metadata described it.
    pub saml: Option<SamlProvider>,
}

/// What Tessera read from a SAML identity provider's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamlProvider {
    pub entity_id: String,
    pub sso_url: String,
    /// Each signing certificate: whom it names, and until when it is valid.
    pub certificates: Vec<(String, String)>,
}

#[server(prefix = "/api", endpoint = "admin_connections")]
pub async fn load_admin_connections(
    tenant: String,
) -> Result<Console<ConnectionsPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some(MANAGE), |actor| {
        let ctx = &ctx;
        async move {
            let all = connections::list(&ctx.state, &actor, &ctx.tenant).await?;
            Ok(ConnectionsPage {
                full: all.len() >= crate::domain::connection::MAX_CONNECTIONS,
                connections: all.iter().map(line).collect(),
                issuer: ctx.state.config.issuer(ctx.tenant.slug.as_str()),
                allow_http: ctx.state.config.fetch_allow_private_networks,
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_connection")]
pub async fn load_admin_connection(
    tenant: String,
    connection: String,
) -> Result<Console<ConnectionPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some(MANAGE), |actor| {
        let ctx = &ctx;
        async move {
            let found = connections::get(&ctx.state, &actor, &ctx.tenant, &connection).await?;
            Ok(ConnectionPage {
                form: form(&found),
                saml: saml_provider(&found),
                issuer: ctx.state.config.issuer(ctx.tenant.slug.as_str()),
                allow_http: ctx.state.config.fetch_allow_private_networks,
            })
        }
    })
    .await
}

/// Adds a connection (`connection` empty) or changes the connection `connection`; an empty
/// secret keeps the current one.
#[server(prefix = "/api", endpoint = "admin_connection_save")]
pub async fn save_connection(
    tenant: String,
    csrf: String,
    #[server(default)] connection: String,
    preset: String,
    #[server(default)] slug: String,
    #[server(default)] name: String,
    #[server(default)] issuer: String,
    #[server(default)] directory: String,
    #[server(default)] authorization_endpoint: String,
    #[server(default)] token_endpoint: String,
    #[server(default)] userinfo_endpoint: String,
    #[server(default)] metadata: String,
    #[server(default)] client_id: String,
    #[server(default)] client_secret: String,
    #[server(default)] scopes: String,
    #[server(default)] subject_claim: String,
    #[server(default)] email_claim: String,
    #[server(default)] email_verified_claim: String,
    #[server(default)] name_claim: String,
    #[server(default)] domains: String,
    #[server(default)] provisioning: Option<String>,
    #[server(default)] enabled: Option<String>,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let back = if connection.is_empty() {
        format!(
            "/t/{}/admin/connections/new?preset={}",
            ctx.tenant.slug,
            server::encode(&preset)
        )
    } else {
        connection_url(&ctx, &connection)
    };
    let Some(actor) = console::act(&ctx, &csrf, &back).await? else {
        return Ok(());
    };
    let Some(preset) = Preset::parse(&preset) else {
        let choose = format!("/t/{}/admin/connections/new", ctx.tenant.slug);
        let unknown = AppError::invalid("Choose the kind of provider first.");
        return console::done(&ctx, &choose, Err(unknown)).await;
    };
    let input = ConnectionInput {
        preset,
        slug,
        name,
        issuer,
        directory,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        metadata,
        client_id,
        client_secret: Some(client_secret),
        scopes,
        subject_claim,
        email_claim,
        email_verified_claim,
        name_claim,
        domains,
        provisioning: provisioning.is_some(),
        enabled: enabled.is_some(),
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let saved = if connection.is_empty() {
        connections::create(state, &actor, t, input).await
    } else {
        connections::update(state, &actor, t, &connection, input).await
    };
    match saved {
        Ok(saved) => {
            let text = if connection.is_empty() {
                let what = if saved.preset.is_oauth() {
                    "its callback URL"
                } else {
                    "Tessera's metadata"
                };
                format!(
                    "{} was added. Register {what} at the provider if you have not yet.",
                    saved.name
                )
            } else {
                format!("{} was saved.", saved.name)
            };
            console::done(&ctx, &connection_url(&ctx, &saved.slug), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &back, Err(e)).await,
    }
}

/// Deletes a connection (with `confirm` ticked) and the identities linked through it.
#[server(prefix = "/api", endpoint = "admin_connection_delete")]
pub async fn delete_connection(
    tenant: String,
    csrf: String,
    connection: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = connection_url(&ctx, &connection);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "this connection")?;
        connections::delete(&ctx.state, &actor, &ctx.tenant, &connection).await?;
        Ok("The connection was deleted: nobody can sign in through it any more.".to_string())
    }
    .await;
    match outcome {
        Ok(text) => {
            let list = format!("/t/{}/admin/connections", ctx.tenant.slug);
            console::done(&ctx, &list, Ok(text)).await
        }
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

/// The connection's console page, or the list when `slug` is no connection's slug.
#[cfg(feature = "ssr")]
fn connection_url(ctx: &Ctx, slug: &str) -> String {
    match check_slug(slug) {
        Ok(slug) => format!("/t/{}/admin/connections/{slug}", ctx.tenant.slug),
        Err(_) => format!("/t/{}/admin/connections", ctx.tenant.slug),
    }
}

#[cfg(feature = "ssr")]
fn line(connection: &Connection) -> ConnectionLine {
    ConnectionLine {
        slug: connection.slug.clone(),
        name: connection.name.clone(),
        provider: connection.preset.label().to_owned(),
        domains: connection.domains.join(", "),
        enabled: connection.enabled,
        provisioning: connection.provisioning,
    }
}

#[cfg(feature = "ssr")]
fn saml_provider(connection: &Connection) -> Option<SamlProvider> {
    let Protocol::Saml {
        entity_id,
        sso_url,
        certificates,
    } = &connection.protocol
    else {
        return None;
    };
    let certificates = certificates
        .iter()
        .filter_map(|c| certificate_summary(c))
        .map(|c| (c.subject, c.not_after))
        .collect();
    Some(SamlProvider {
        entity_id: entity_id.clone(),
        sso_url: sso_url.clone(),
        certificates,
    })
}

#[cfg(feature = "ssr")]
fn form(connection: &Connection) -> ConnectionForm {
    let input = ConnectionInput::of(connection);
    ConnectionForm {
        preset: input.preset.as_str().to_owned(),
        slug: input.slug,
        name: input.name,
        issuer: input.issuer,
        directory: input.directory,
        authorization_endpoint: input.authorization_endpoint,
        token_endpoint: input.token_endpoint,
        userinfo_endpoint: input.userinfo_endpoint,
        metadata: input.metadata,
        client_id: input.client_id,
        has_secret: connection.client_secret.is_some(),
        scopes: input.scopes,
        subject_claim: input.subject_claim,
        email_claim: input.email_claim,
        email_verified_claim: input.email_verified_claim,
        name_claim: input.name_claim,
        domains: input.domains,
        provisioning: input.provisioning,
        enabled: input.enabled,
    }
}
