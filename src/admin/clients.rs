//! Registered applications (OAuth clients): the console's developer pages and the command
//! line. Developers holding `clients:manage_own` see and change only the clients they
//! registered; `clients:manage` covers every client.

use super::{audited, event_of, Actor, Credential, KeyHolder};
use crate::crypto::{random_token, sha256_hex, signing};
use crate::domain::{
    AppType, Client, ClientKey, ClientType, ExchangePolicy, GrantType, Grants, Invalid, Permission,
    RedirectUri, RequestMeta, SigningAlg, Tenant, Timestamp, TokenAuthMethod,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a client is registered with; everything left out takes its default.
#[derive(Debug, Default)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty: authorization_code only.
    pub grants: Vec<GrantType>,
    /// Empty: openid, profile and email.
    pub scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may ask tokens for.
    pub resources: Vec<String>,
    /// How its ID tokens are signed.
    pub id_token_alg: SigningAlg,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// RFC 9126 §6: refuse authorization requests that were not pushed.
    pub require_par: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: refuse token requests without a DPoP proof.
    pub require_dpop: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    pub require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    pub require_signed_request_object: bool,
    /// RFC 8693: the audiences and scopes a token exchange may give it (none by default).
    pub exchange: ExchangePolicy,
    /// A JWK Set (JSON) of the client's public keys: it then authenticates with
    /// `private_key_jwt` and gets no secret.
    pub jwks: Option<String>,
    /// An https image shown with the name on the consent page.
    pub logo_uri: Option<String>,
    /// How a confidential client with a secret sends it (RFC 7591 §2
    /// `token_endpoint_auth_method`): `client_secret_basic` unless it asks for
    /// `client_secret_post`.
    pub secret_method: Option<TokenAuthMethod>,
}

const MANAGE: &str = "clients:manage";
const MANAGE_OWN: &str = "clients:manage_own";

/// Registers a client; returns it and, for clients authenticating with a secret, the secret
/// (shown once).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    new: NewClient,
) -> AppResult<(Client, Option<String>)> {
    actor.require(tenant, MANAGE_OWN)?;
    let (client, secret) = build(actor, tenant, new)?;
    store_new(state, actor, &client, "client.created").await?;
    Ok((client, secret))
}

/// The client `new` describes, checked with the console's field rules, and its secret when it
/// has one; nothing is stored.
pub(super) fn build(
    actor: &Actor,
    tenant: &Tenant,
    new: NewClient,
) -> AppResult<(Client, Option<String>)> {
    Client::validate_client_id(&new.client_id)?;
    let logo_uri = Client::check_logo_uri(new.logo_uri.as_deref().unwrap_or_default())?;
    let name = Client::check_name(&new.name)?;
    let grant_types = grants(&new)?;
    // Clients that never send anyone to the authorization endpoint need no redirect URI.
    if new.redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        let none = Invalid::new("Give at least one redirect URI.");
        return Err(none.on("redirect_uris").into());
    }
    let redirect_uris =
        RedirectUri::parse_all(&new.redirect_uris).map_err(|e| e.on("redirect_uris"))?;
    let post_logout_redirect_uris = post_logout_uris(&new.post_logout_redirect_uris)?;
    let backchannel_logout_uri = match &new.backchannel_logout_uri {
        Some(uri) => {
            let uri = RedirectUri::parse(uri).map_err(|e| e.on("backchannel_logout_uri"))?;
            Some(uri.as_str().to_owned())
        }
        None => None,
    };
    let scopes: Vec<String> = if new.scopes.is_empty() {
        Client::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        new.scopes.clone()
    };
    for scope in &scopes {
        Client::validate_scope(scope).map_err(|e| e.on("scopes"))?;
    }
    check_api_scopes(actor, &scopes, &[])?;
    for resource in &new.resources {
        Client::validate_resource(resource).map_err(|e| e.on("resources"))?;
    }
    new.exchange.check()?;
    let jwks = match &new.jwks {
        Some(_) if new.public => {
            let refused = Invalid::new("A public client has no keys: it cannot use private_key_jwt.");
            return Err(refused.on("jwks").into());
        }
        Some(raw) => Some(validate_jwks(raw)?),
        None => None,
    };
    let (auth_method, secret) = match (&jwks, new.public) {
        (_, true) => (TokenAuthMethod::None, None),
        (Some(_), false) => (TokenAuthMethod::PrivateKeyJwt, None),
        (None, false) => (
            secret_method(new.secret_method)?,
            Some(random_token(32)),
        ),
    };
    let client = Client {
        key: ClientKey::generate(),
        tenant_id: tenant.id,
        client_id: new.client_id.clone(),
        name,
        client_type: if new.public {
            ClientType::Public
        } else {
            ClientType::Confidential
        },
        secret_hash: secret.as_deref().map(sha256_hex),
        redirect_uris,
        grant_types,
        scopes,
        require_pkce: true,
        require_consent: true,
        auth_method,
        access_token_ttl_secs: tenant.settings.access_token_secs,
        id_token_ttl_secs: tenant.settings.access_token_secs,
        refresh_token_ttl_secs: tenant.settings.refresh_idle_secs,
        refresh_family_ttl_secs: tenant.settings.refresh_absolute_secs,
        resources: new.resources,
        id_token_alg: new.id_token_alg,
        require_par: new.require_par,
        require_dpop: new.require_dpop,
        require_dpop_nonce: new.require_dpop_nonce,
        require_signed_request_object: new.require_signed_request_object,
        exchange: new.exchange,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        jwks,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        logo_uri,
        created_by: actor.user_id(),
        registration_token_hash: None,
        disabled: false,
        created_at: Timestamp::now(),
    };
    Ok((client, secret))
}

/// How a client with a secret sends it; `client_secret_basic` unless another is asked for.
fn secret_method(asked: Option<TokenAuthMethod>) -> Result<TokenAuthMethod, Invalid> {
    match asked {
        None => Ok(TokenAuthMethod::ClientSecretBasic),
        Some(m @ (TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost)) => Ok(m),
        Some(other) => {
            let why = format!(
                "{} does not go with a secret: use client_secret_basic or client_secret_post.",
                other.as_str()
            );
            Err(Invalid::new(why).on("token_endpoint_auth_method"))
        }
    }
}

/// Stores `client`, built by [`build`], and audits it as `action`.
pub(super) async fn store_new(
    state: &AppState,
    actor: &Actor,
    client: &Client,
    action: &str,
) -> AppResult<()> {
    // The key its ID tokens need is in the JWKS before the client exists.
    state
        .keys
        .ensure_alg(client.tenant_id, client.id_token_alg)
        .await?;
    let event = event_of(
        actor,
        client.tenant_id,
        action,
        format!("client:{}", client.client_id),
    );
    let change = state.store.clients.create(client.tenant_id, client);
    audited(state, actor, event, change).await?;
    Ok(())
}

fn grants(new: &NewClient) -> AppResult<Vec<GrantType>> {
    let mut grants: Vec<GrantType> = if new.grants.is_empty() {
        vec![GrantType::AuthorizationCode]
    } else {
        new.grants.clone()
    };
    grants.sort_by_key(|g| g.as_str());
    grants.dedup();
    if new.public && grants.contains(&GrantType::ClientCredentials) {
        let refused = Invalid::new("A public client cannot use client_credentials: it has no secret.");
        return Err(refused.on("grant_types").into());
    }
    // RFC 8693 §2.1: the exchanging client authenticates; a public one cannot.
    if new.public && grants.contains(&GrantType::TokenExchange) {
        let refused = Invalid::new("Only confidential clients may exchange tokens.");
        return Err(refused.on("grant_types").into());
    }
    Ok(grants)
}

/// The scopes of the management API among `scopes` carry permissions (`tessera:users:read`):
/// each must be one, and nobody gives an application a permission they do not hold. Those it
/// had `before` stay, so that someone else may still edit its other settings.
fn check_api_scopes(actor: &Actor, scopes: &[String], before: &[String]) -> AppResult<()> {
    let mut added = Vec::new();
    for scope in scopes.iter().filter(|s| !before.contains(s)) {
        if let Some(permission) = Permission::of_api_scope(scope) {
            added.push(permission.map_err(|e| e.on("scopes"))?);
        }
    }
    if actor.grants().is_some_and(|g| !g.include(&added)) {
        let refused =
            Invalid::new("An application cannot have a permission you do not hold yourself.");
        return Err(refused.on("scopes").into());
    }
    Ok(())
}

/// An application acting through the management API with a client-credentials access token
/// of its own, already verified, holding `scopes`: it acts with the permissions of the
/// management API's scopes among them that it is still registered with. `None` when it is
/// gone or disabled, so that a token outlives neither.
pub async fn acting_application(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    scopes: &[String],
    meta: RequestMeta,
) -> AppResult<Option<Actor>> {
    let Some(client) = state
        .store
        .clients
        .by_client_id(tenant.id, client_id)
        .await?
        .filter(|c| !c.disabled)
    else {
        return Ok(None);
    };
    let permissions: Vec<Permission> = scopes
        .iter()
        .filter(|s| client.scopes.contains(s))
        .filter_map(|s| Permission::of_api_scope(s).and_then(Result::ok))
        .collect();
    Ok(Some(Actor::Key(KeyHolder {
        tenant_id: tenant.id,
        credential: Credential::Application(client.client_id),
        grants: Grants::exactly(&permissions),
        meta,
    })))
}

/// OIDC RP-Initiated Logout 1.0 §2: registered like redirect URIs.
fn post_logout_uris(raw: &[String]) -> Result<Vec<RedirectUri>, Invalid> {
    RedirectUri::parse_all(raw).map_err(|e| e.on("post_logout_redirect_uris"))
}

/// A JWK Set of public keys we can verify with; a private key in it is refused, since a client
/// that sends one has leaked it.
fn validate_jwks(raw: &str) -> AppResult<String> {
    let invalid =
        |why: &str| AppError::from(Invalid::new(format!("The JWK Set is not usable: {why}.")).on("jwks"));
    let set: serde_json::Value = serde_json::from_str(raw).map_err(|_| invalid("not JSON"))?;
    let keys = set["keys"]
        .as_array()
        .filter(|k| !k.is_empty() && k.len() <= 20)
        .ok_or_else(|| invalid("it needs 1 to 20 keys in \"keys\""))?;
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| key.get(private).is_some())
        {
            return Err(invalid(
                "it holds a private or symmetric key; register public keys only",
            ));
        }
        signing::decoding_key(key).map_err(|e| invalid(&e))?;
    }
    Ok(set.to_string())
}

/// Gives a secret client a new secret, printed once; the old one keeps working for
/// `grace_secs` so the application can be redeployed without downtime.
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
    grace_secs: i64,
) -> AppResult<String> {
    Client::check_grace(grace_secs)?;
    actor.require_fresh(tenant, MANAGE_OWN)?;
    let mut client = get(state, actor, tenant, client_id).await?;
    if client.secret_hash.is_none() {
        return Err(AppError::invalid(format!(
            "client {client_id:?} does not use a secret ({})",
            client.auth_method.as_str()
        )));
    }
    let secret = random_token(32);
    client.previous_secret_hash = client.secret_hash.take();
    client.previous_secret_expires_at = Some(Timestamp::now().plus_secs(grace_secs));
    client.secret_hash = Some(sha256_hex(&secret));
    let event = event_of(
        actor,
        tenant.id,
        "client.secret_rotated",
        format!("client:{client_id}"),
    );
    let change = state.store.clients.update(tenant.id, &client);
    audited(state, actor, event, change).await?;
    Ok(secret)
}

/// The clients the actor may see: all of them, or those they registered.
pub async fn list(state: &AppState, actor: &Actor, tenant: &Tenant) -> AppResult<Vec<Client>> {
    actor.require(tenant, MANAGE_OWN)?;
    let all = state.store.clients.list(tenant.id).await?;
    Ok(all
        .into_iter()
        .filter(|c| may_manage(actor, tenant, c))
        .collect())
}

fn may_manage(actor: &Actor, tenant: &Tenant, client: &Client) -> bool {
    actor.require(tenant, MANAGE).is_ok()
        || (client.created_by.is_some() && client.created_by == actor.user_id())
}

/// The client `client_id`, if the actor may manage it; another developer's client is
/// `NotFound`, as if it did not exist.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
) -> AppResult<Client> {
    actor.require(tenant, MANAGE_OWN)?;
    state
        .store
        .clients
        .by_client_id(tenant.id, client_id)
        .await?
        .filter(|c| may_manage(actor, tenant, c))
        .ok_or(AppError::NotFound)
}

/// A new application from the console's "new application" flow: the type sets the client
/// kind, grants and token authentication; the client id is generated.
pub struct Registration {
    pub app_type: AppType,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub logo_uri: Option<String>,
}

pub async fn register(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    registration: Registration,
) -> AppResult<(Client, Option<String>)> {
    actor.require(tenant, MANAGE_OWN)?;
    let app = registration.app_type;
    app.check_redirects(&registration.redirect_uris)?;
    let new = NewClient {
        client_id: random_token(16),
        name: registration.name,
        redirect_uris: registration.redirect_uris,
        public: app.is_public(),
        grants: app.grants(),
        post_logout_redirect_uris: registration.post_logout_redirect_uris,
        logo_uri: registration.logo_uri,
        ..NewClient::default()
    };
    create(state, actor, tenant, new).await
}

/// What the client page edits.
pub struct Settings {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// As typed: separated by spaces.
    pub scopes: String,
    pub require_consent: bool,
    /// RFC 9449 §5.2: token requests without a DPoP proof are refused.
    pub require_dpop: bool,
    /// RFC 9449 §8: DPoP proofs must carry a nonce this server issued.
    pub require_dpop_nonce: bool,
    /// RFC 9101 §10.5: authorization requests must come as a request object signed by the client.
    pub require_signed_request_object: bool,
    /// RFC 8693: the audiences and scopes a token exchange may give it.
    pub exchange: ExchangePolicy,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// As typed: empty for none.
    pub logo_uri: String,
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
    settings: Settings,
) -> AppResult<Client> {
    let mut client = get(state, actor, tenant, client_id).await?;
    client.name = Client::check_name(&settings.name)?;
    client.redirect_uris = AppType::of(&client).check_redirects(&settings.redirect_uris)?;
    client.post_logout_redirect_uris = post_logout_uris(&settings.post_logout_redirect_uris)?;
    let scopes = Client::check_scopes(&settings.scopes)?;
    check_api_scopes(actor, &scopes, &client.scopes)?;
    client.scopes = scopes;
    Client::check_access_ttl(settings.access_token_ttl_secs)?;
    Client::check_refresh_ttl(settings.refresh_token_ttl_secs)?;
    client.require_consent = settings.require_consent;
    client.require_dpop = settings.require_dpop;
    client.require_dpop_nonce = settings.require_dpop_nonce;
    client.require_signed_request_object = settings.require_signed_request_object;
    settings.exchange.check()?;
    client.exchange = settings.exchange;
    client.access_token_ttl_secs = settings.access_token_ttl_secs;
    client.refresh_token_ttl_secs = settings.refresh_token_ttl_secs;
    client.logo_uri = Client::check_logo_uri(&settings.logo_uri)?;
    let event = event_of(
        actor,
        tenant.id,
        "client.updated",
        format!("client:{client_id}"),
    );
    let change = state.store.clients.update(tenant.id, &client);
    audited(state, actor, event, change).await?;
    Ok(client)
}

/// A disabled client gets no tokens until it is enabled again.
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
    disabled: bool,
) -> AppResult<Client> {
    let mut client = get(state, actor, tenant, client_id).await?;
    client.disabled = disabled;
    let action = if disabled {
        "client.disabled"
    } else {
        "client.enabled"
    };
    let event = event_of(actor, tenant.id, action, format!("client:{client_id}"));
    let change = state.store.clients.update(tenant.id, &client);
    audited(state, actor, event, change).await?;
    Ok(client)
}

pub async fn delete(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    client_id: &str,
) -> AppResult<()> {
    actor.require_fresh(tenant, MANAGE_OWN)?;
    let client = get(state, actor, tenant, client_id).await?;
    let event = event_of(
        actor,
        tenant.id,
        "client.deleted",
        format!("client:{client_id}"),
    )
    .reason(format!("name={}", client.name));
    let change = state.store.clients.delete(tenant.id, client_id);
    if !audited(state, actor, event, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}
