//! The console's applications: registering OAuth clients, their settings, secrets and state.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::Console;
#[cfg(feature = "ssr")]
use crate::{
    admin::Actor,
    app::api::server::{self, Ctx},
    domain::{uri_lines, whole_number, ExchangePolicy, Invalid},
    error::{AppError, AppResult},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientLine {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub disabled: bool,
    /// It registered itself (RFC 7591).
    pub self_registered: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientsPage {
    pub clients: Vec<ClientLine>,
    /// Every application type: value, name, what it is for.
    pub types: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientPage {
    pub client_id: String,
    pub name: String,
    /// What the application is, in words, and as [`crate::domain::AppType`] names it.
    pub kind: String,
    pub app_type: String,
    pub public: bool,
    pub has_secret: bool,
    /// The secret, on the one page load right after it was made.
    pub secret: Option<String>,
    pub redirects: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub scopes: String,
    pub require_consent: bool,
    /// RFC 9449 §5.2: token requests must carry a DPoP proof.
    pub require_dpop: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    pub require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    pub require_signed_request_object: bool,
    /// RFC 8693: the audiences a token exchange may give it, one a line.
    pub exchange_audiences: String,
    /// RFC 8693: the scopes a token exchange may give it, separated by spaces.
    pub exchange_scopes: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub logo_uri: String,
    pub disabled: bool,
    /// It registered itself (RFC 7591) and manages its registration with its registration
    /// access token (RFC 7592).
    pub self_registered: bool,
    pub grants: String,
    pub auth_method: String,
    pub issuer: String,
    pub discovery: String,
    pub snippet: String,
}

#[server(prefix = "/api", endpoint = "admin_clients")]
pub async fn load_admin_clients(tenant: String) -> Result<Console<ClientsPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("clients:manage_own"), |actor| {
        let ctx = &ctx;
        async move {
            let clients = crate::admin::clients::list(&ctx.state, &actor, &ctx.tenant).await?;
            Ok(ClientsPage {
                clients: clients
                    .iter()
                    .map(|c| ClientLine {
                        client_id: c.client_id.clone(),
                        name: c.name.clone(),
                        kind: crate::domain::AppType::of(c).describe().0.into(),
                        disabled: c.disabled,
                        self_registered: c.registration_token_hash.is_some(),
                    })
                    .collect(),
                types: crate::domain::AppType::ALL
                    .iter()
                    .map(|t| {
                        let (name, what) = t.describe();
                        (t.as_str().into(), name.into(), what.into())
                    })
                    .collect(),
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_client")]
pub async fn load_admin_client(
    tenant: String,
    client: String,
    show: String,
) -> Result<Console<ClientPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("clients:manage_own"), |actor| {
        let ctx = &ctx;
        async move { client_page(ctx, &actor, &client, show == "1").await }
    })
    .await
}

/// The "new application" flow: the type sets the defaults; a secret is shown once on the
/// client's page.
#[server(prefix = "/api", endpoint = "admin_client_register")]
pub async fn register_client(
    tenant: String,
    csrf: String,
    app_type: String,
    name: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] logo_uri: String,
) -> Result<(), ServerFnError> {
    use crate::admin::clients;
    let ctx = server::context(&tenant).await?;
    let back = format!(
        "/t/{}/admin/clients/new?type={}",
        ctx.tenant.slug,
        server::encode(&app_type)
    );
    let Some(actor) = console::act(&ctx, &csrf, &back).await? else {
        return Ok(());
    };
    let Some(kind) = crate::domain::AppType::parse(&app_type) else {
        let choose = format!("/t/{}/admin/clients/new", ctx.tenant.slug);
        let unknown = AppError::invalid("Choose the type of application first.");
        return console::done(&ctx, &choose, Err(unknown)).await;
    };
    let registration = clients::Registration {
        app_type: kind,
        name,
        redirect_uris: uri_lines(&redirect_uris),
        post_logout_redirect_uris: uri_lines(&post_logout_redirect_uris),
        logo_uri: Some(logo_uri.trim().to_owned()).filter(|l| !l.is_empty()),
    };
    match clients::register(&ctx.state, &actor, &ctx.tenant, registration).await {
        Ok((client, secret)) => {
            let page = format!("/t/{}/admin/clients/{}", ctx.tenant.slug, client.client_id);
            let Some(secret) = secret else {
                let text = format!("{} is registered.", client.name);
                return console::done(&ctx, &page, Ok(text)).await;
            };
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = format!(
                "{} is registered. Copy its secret now: it is shown only this once.",
                client.name
            );
            console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &back, Err(e)).await,
    }
}

#[server(prefix = "/api", endpoint = "admin_client_save")]
pub async fn save_client(
    tenant: String,
    csrf: String,
    client: String,
    name: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] scopes: String,
    #[server(default)] require_consent: Option<String>,
    #[server(default)] require_dpop: Option<String>,
    #[server(default)] require_dpop_nonce: Option<String>,
    #[server(default)] require_signed_request_object: Option<String>,
    #[server(default)] exchange_audiences: String,
    #[server(default)] exchange_scopes: String,
    access_token_ttl_secs: String,
    refresh_token_ttl_secs: String,
    #[server(default)] logo_uri: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = client_url(&ctx, &client);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let settings = crate::admin::clients::Settings {
            name,
            redirect_uris: uri_lines(&redirect_uris),
            post_logout_redirect_uris: uri_lines(&post_logout_redirect_uris),
            scopes,
            require_consent: require_consent.is_some(),
            require_dpop: require_dpop.is_some(),
            require_dpop_nonce: require_dpop_nonce.is_some(),
            require_signed_request_object: require_signed_request_object.is_some(),
            exchange: ExchangePolicy::from_form(&exchange_audiences, &exchange_scopes),
            access_token_ttl_secs: whole_number(
                &access_token_ttl_secs,
                "The access token lifetime",
            )
            .map_err(|e| e.on("access_token_ttl_secs"))?,
            refresh_token_ttl_secs: whole_number(
                &refresh_token_ttl_secs,
                "The refresh token lifetime",
            )
            .map_err(|e| e.on("refresh_token_ttl_secs"))?,
            logo_uri,
        };
        crate::admin::clients::update(&ctx.state, &actor, &ctx.tenant, &client, settings).await?;
        Ok("The application was saved.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// `rotate` the secret (the old one keeps working for `grace` seconds), `disable`, `enable`,
/// or `delete` (with `confirm` repeating the client id).
#[server(prefix = "/api", endpoint = "admin_client_action")]
pub async fn client_action(
    tenant: String,
    csrf: String,
    client: String,
    action: String,
    #[server(default)] grace: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    use crate::admin::clients;
    let ctx = server::context(&tenant).await?;
    let page = client_url(&ctx, &client);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    match action.as_str() {
        "rotate" => {
            let grace = grace.trim().parse::<i64>().unwrap_or(-1);
            match clients::rotate_secret(state, &actor, t, &client, grace).await {
                Ok(secret) => {
                    crate::auth::reveal::stash(state, &ctx.session, t, &[secret])
                        .await
                        .map_err(server::internal(&ctx))?;
                    let text = "A new secret was made. Copy it now: it is shown only this once. The old secret keeps working for the grace period.".to_string();
                    console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
                }
                Err(e) => console::done(&ctx, &page, Err(e)).await,
            }
        }
        "disable" | "enable" => {
            let outcome = clients::set_disabled(state, &actor, t, &client, action == "disable")
                .await
                .map(|c| {
                    if c.disabled {
                        "The application is disabled: it gets no tokens.".to_string()
                    } else {
                        "The application is enabled again.".to_string()
                    }
                });
            console::done(&ctx, &page, outcome).await
        }
        "delete" => {
            if confirm.trim() != client {
                let refused =
                    Invalid::new("Type the client id to confirm deleting the application.");
                return console::done(&ctx, &page, Err(refused.on("confirm").into())).await;
            }
            match clients::delete(state, &actor, t, &client).await {
                Ok(()) => {
                    let list = format!("/t/{}/admin/clients", t.slug);
                    console::done(&ctx, &list, Ok("The application was deleted.".into())).await
                }
                Err(e) => console::done(&ctx, &page, Err(e)).await,
            }
        }
        _ => console::done(&ctx, &page, Err(AppError::invalid("Unknown action."))).await,
    }
}

#[cfg(feature = "ssr")]
/// The application's console page, or the list when `client` is no client id.
fn client_url(ctx: &Ctx, client: &str) -> String {
    if crate::domain::Client::validate_client_id(client).is_ok() {
        format!("/t/{}/admin/clients/{client}", ctx.tenant.slug)
    } else {
        format!("/t/{}/admin/clients", ctx.tenant.slug)
    }
}

#[cfg(feature = "ssr")]
async fn client_page(
    ctx: &Ctx,
    actor: &Actor,
    client_id: &str,
    show: bool,
) -> AppResult<ClientPage> {
    use crate::domain::AppType;
    let client = crate::admin::clients::get(&ctx.state, actor, &ctx.tenant, client_id).await?;
    let secret = if show {
        crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
            .await?
            .and_then(|s| s.into_iter().next())
    } else {
        None
    };
    let issuer = ctx.state.config.issuer(ctx.tenant.slug.as_str());
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let kind = AppType::of(&client);
    let join = |uris: &[crate::domain::RedirectUri]| {
        uris.iter()
            .map(|u| u.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut snippet = format!(
        "OIDC_ISSUER={issuer}\nOIDC_DISCOVERY_URL={discovery}\nOIDC_CLIENT_ID={}\n",
        client.client_id
    );
    if client.secret_hash.is_some() {
        snippet.push_str("OIDC_CLIENT_SECRET=<the secret shown when it was made>\n");
    }
    if let Some(uri) = client.redirect_uris.first() {
        snippet.push_str(&format!("OIDC_REDIRECT_URI={}\n", uri.as_str()));
    }
    snippet.push_str(&format!("OIDC_SCOPES=\"{}\"\n", client.scopes.join(" ")));
    if kind.is_public() && kind.redirects() {
        snippet.push_str("# Public client: use PKCE (S256); there is no secret.\n");
    }
    Ok(ClientPage {
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        kind: kind.describe().0.into(),
        app_type: kind.as_str().into(),
        public: kind.is_public(),
        has_secret: client.secret_hash.is_some(),
        secret,
        redirects: kind.redirects(),
        redirect_uris: join(&client.redirect_uris),
        post_logout_redirect_uris: join(&client.post_logout_redirect_uris),
        scopes: client.scopes.join(" "),
        require_consent: client.require_consent,
        require_dpop: client.require_dpop,
        require_dpop_nonce: client.require_dpop_nonce,
        require_signed_request_object: client.require_signed_request_object,
        exchange_audiences: client.exchange.audiences.join("\n"),
        exchange_scopes: client.exchange.scopes.join(" "),
        access_token_ttl_secs: client.access_token_ttl_secs,
        refresh_token_ttl_secs: client.refresh_token_ttl_secs,
        logo_uri: client.logo_uri.clone().unwrap_or_default(),
        disabled: client.disabled,
        self_registered: client.registration_token_hash.is_some(),
        grants: client
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        auth_method: client.auth_method.as_str().into(),
        issuer,
        discovery,
        snippet,
    })
}
