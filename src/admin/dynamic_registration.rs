//! Applications registering themselves: OAuth 2.0 Dynamic Client Registration (RFC 7591) and
//! its management protocol (RFC 7592). The metadata is checked with the console's field rules
//! ([`clients::build`]); a self-registered application asks only for the OpenID Connect
//! scopes and holds no permission, so it never reaches the management API; an admin can give
//! it more in the console. Each registration carries a registration access token (only its
//! hash is stored) with which the application reads, replaces and deletes its registration;
//! a replacement rotates it.

use super::clients::{self, NewClient};
use super::{audited, event_of, Actor, Credential, KeyHolder};
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::domain::api_key::has_secret_shape;
use crate::domain::registration::{MANAGEMENT_PREFIX, PREFIX};
use crate::domain::{
    AuditEvent, Client, ClientType, Grants, Invalid, Outcome, RequestMeta, Tenant, Timestamp,
};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::StoreError;
use uuid::Uuid;

/// Why a request was refused: RFC 7591 §3.2.2 and RFC 7592 §2 name the answers.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The initial or registration access token is missing, unknown, expired, used up or
    /// revoked, or names another application (RFC 6750 §3.1 `invalid_token`); the reason is
    /// audited, never said.
    #[error("the access token is not valid")]
    Token,
    /// Too many open registrations from one address; try again after
    /// [`THROTTLE_RETRY_SECS`].
    #[error("too many registrations from this address")]
    Throttled,
    /// The metadata broke a rule; the message names the field.
    #[error("{0}")]
    Metadata(Invalid),
    #[error(transparent)]
    Failed(AppError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(invalid) => Self::Metadata(invalid),
            other => Self::Failed(other),
        }
    }
}

/// A registration as it now stands, with the secrets of this answer only.
pub struct Registered {
    pub client: Client,
    /// A new client secret (at registration, or when a replacement starts using one).
    pub secret: Option<String>,
    /// A new registration access token (at registration and at every replacement).
    pub registration_token: Option<String>,
}

/// Open registration: at most this many from one address within [`THROTTLE_RETRY_SECS`]
/// (counted in the store, so every process counts the same registrations).
const OPEN_PER_ADDRESS: i64 = 20;
pub const THROTTLE_RETRY_SECS: u32 = 3600;

/// The scopes a self-registered application may ask for: those of OpenID Connect, whose use
/// each person consents to. Scopes of the tenant's own APIs are an admin's to give.
const SELF_SCOPES: [&str; 4] = Client::KNOWN_SCOPES;

/// RFC 7591 §3: registers the application `new` describes. Unless the tenant allows open
/// registration, `initial_token` must be an active initial access token of the tenant; one
/// use of it is spent once the metadata has passed.
pub async fn register(
    state: &AppState,
    tenant: &Tenant,
    initial_token: Option<&str>,
    meta: RequestMeta,
    mut new: NewClient,
) -> Result<Registered, Refused> {
    let refuse = |reason: &str| {
        AuditEvent::new(
            tenant.id,
            "client.registration_refused",
            Outcome::Failure,
            "anonymous",
        )
        .reason(reason)
    };
    if initial_token.is_none() && !tenant.settings.open_registration {
        let event = refuse("no initial access token");
        state.audit(event, &meta).await;
        return Err(Refused::Token);
    }
    if initial_token.is_some_and(|t| !has_secret_shape(PREFIX, t)) {
        state
            .audit(refuse("malformed initial access token"), &meta)
            .await;
        return Err(Refused::Token);
    }
    check_self_scopes(&new.scopes)?;
    check_backchannel_uri(state, &new)?;
    if initial_token.is_none() {
        throttle(state, tenant, &meta).await?;
    }
    new.client_id = random_token(16);
    let (mut client, secret) =
        clients::build(state, &registrant(tenant, None, meta.clone()), tenant, new)?;
    let spent = match initial_token {
        Some(token) => {
            let hash = sha256_hex(token);
            let now = Timestamp::now();
            let spent = state.store.initial_tokens.spend(tenant.id, &hash, now);
            match spent.await? {
                Some(token) => Some(token.id),
                None => {
                    let event = refuse("unknown, expired, used up or revoked initial access token");
                    state.audit(event, &meta).await;
                    return Err(Refused::Token);
                }
            }
        }
        None => None,
    };
    let registration_token = format!("{MANAGEMENT_PREFIX}{}", random_token(32));
    client.registration_token_hash = Some(sha256_hex(&registration_token));
    let actor = registrant(tenant, spent, meta);
    clients::store_new(state, &actor, &client, "client.registered").await?;
    Ok(Registered {
        client,
        secret,
        registration_token: Some(registration_token),
    })
}

/// RFC 7592 §2: the application `client_id` when `presented` is its registration access
/// token; a refusal otherwise, the same whatever the reason (audited).
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    presented: Option<&str>,
    meta: &RequestMeta,
) -> Result<Client, Refused> {
    let found = match presented.filter(|t| has_secret_shape(MANAGEMENT_PREFIX, t)) {
        Some(token) => {
            let client = state.store.clients.by_client_id(tenant.id, client_id);
            let hash = sha256_hex(token);
            client.await?.filter(|c| {
                !c.disabled
                    && c.registration_token_hash
                        .as_deref()
                        .is_some_and(|h| constant_time_eq(&hash, h))
            })
        }
        None => None,
    };
    match found {
        Some(client) => Ok(client),
        None => {
            let event = AuditEvent::new(
                tenant.id,
                "client.registration_refused",
                Outcome::Failure,
                "anonymous",
            )
            .target(format!("client:{client_id}"))
            .reason("registration access token refused");
            state.audit(event, meta).await;
            Err(Refused::Token)
        }
    }
}

/// RFC 7592 §2.2: replaces the metadata of `client` with `new` (what the request left out
/// takes its default) and rotates the registration access token. What only an admin sets
/// (token lifetimes, resources, token exchange, consent, being disabled) stays as it was.
/// `presented_secret`, when sent, must be the current secret.
pub async fn replace(
    state: &AppState,
    tenant: &Tenant,
    client: Client,
    presented_secret: Option<&str>,
    meta: RequestMeta,
    mut new: NewClient,
) -> Result<Registered, Refused> {
    if let Some(secret) = presented_secret {
        let hash = sha256_hex(secret);
        let current = client.secret_hash.as_deref();
        if !current.is_some_and(|h| constant_time_eq(&hash, h)) {
            let why = "client_secret is not the application's current secret.";
            return Err(Refused::Metadata(Invalid::new(why).on("client_secret")));
        }
    }
    check_self_scopes(&new.scopes)?;
    check_backchannel_uri(state, &new)?;
    new.client_id = client.client_id.clone();
    new.resources = client.resources.clone();
    new.exchange = client.exchange.clone();
    let actor = application(tenant, &client, meta);
    let (mut changed, new_secret) = clients::build(state, &actor, tenant, new)?;
    if changed.client_type != client.client_type {
        let why = match client.client_type {
            ClientType::Public => {
                "A public application cannot become confidential: register a new one."
            }
            ClientType::Confidential => {
                "A confidential application cannot become public: register a new one."
            }
        };
        return Err(Refused::Metadata(
            Invalid::new(why).on("token_endpoint_auth_method"),
        ));
    }
    // A secret it already has stays; one is made only when it starts using a secret.
    let secret = match (&client.secret_hash, &changed.secret_hash) {
        (Some(_), Some(_)) => {
            changed.secret_hash = client.secret_hash.clone();
            changed.previous_secret_hash = client.previous_secret_hash.clone();
            changed.previous_secret_expires_at = client.previous_secret_expires_at;
            None
        }
        _ => new_secret,
    };
    let registration_token = format!("{MANAGEMENT_PREFIX}{}", random_token(32));
    changed.key = client.key;
    changed.created_at = client.created_at;
    changed.created_by = client.created_by;
    changed.disabled = client.disabled;
    changed.require_consent = client.require_consent;
    changed.access_token_ttl_secs = client.access_token_ttl_secs;
    changed.id_token_ttl_secs = client.id_token_ttl_secs;
    changed.refresh_token_ttl_secs = client.refresh_token_ttl_secs;
    changed.refresh_family_ttl_secs = client.refresh_family_ttl_secs;
    changed.registration_token_hash = Some(sha256_hex(&registration_token));
    state
        .keys
        .ensure_alg(tenant.id, changed.id_token_alg)
        .await?;
    let event = event_of(&actor, tenant.id, "client.updated", target(&client))
        .reason("by its registration access token");
    let change = state.store.clients.update(tenant.id, &changed);
    audited(state, &actor, event, change).await?;
    Ok(Registered {
        client: changed,
        secret,
        registration_token: Some(registration_token),
    })
}

/// RFC 7592 §2.3: deletes the registration; the application's tokens stop working with it.
pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    meta: RequestMeta,
) -> Result<(), Refused> {
    let actor = application(tenant, client, meta);
    let event = event_of(&actor, tenant.id, "client.deleted", target(client)).reason(format!(
        "name={} by its registration access token",
        client.name
    ));
    let change = state.store.clients.delete(tenant.id, &client.client_id);
    if !audited(state, &actor, event, change).await? {
        return Err(Refused::Token);
    }
    Ok(())
}

/// Counts an open registration from the caller's address; refuses it past the limit.
async fn throttle(state: &AppState, tenant: &Tenant, meta: &RequestMeta) -> Result<(), Refused> {
    let address = meta.ip.as_deref().unwrap_or("unknown");
    let until = Timestamp::now().plus_secs(i64::from(THROTTLE_RETRY_SECS));
    let counted =
        state
            .store
            .artifacts
            .count_ephemeral(tenant.id, "open-registration", address, until);
    if counted.await? > OPEN_PER_ADDRESS {
        let event = AuditEvent::new(
            tenant.id,
            "client.registration_refused",
            Outcome::Failure,
            "anonymous",
        )
        .reason("too many open registrations from this address");
        state.audit(event, meta).await;
        return Err(Refused::Throttled);
    }
    Ok(())
}

/// A self-registered application's back-channel logout URI is posted to through the SSRF
/// guard; one the guard refuses outright is refused now.
fn check_backchannel_uri(state: &AppState, new: &NewClient) -> Result<(), Refused> {
    let refused = new
        .backchannel_logout_uri
        .as_deref()
        .and_then(|uri| state.fetcher.refused(uri));
    match refused {
        Some(why) => {
            let why = format!("The back-channel logout URI is refused: {why}.");
            Err(Refused::Metadata(
                Invalid::new(why).on("backchannel_logout_uri"),
            ))
        }
        None => Ok(()),
    }
}

/// RFC 7591 §2 `scope`: only the scopes of [`SELF_SCOPES`].
fn check_self_scopes(scopes: &[String]) -> Result<(), Refused> {
    match scopes.iter().find(|s| !SELF_SCOPES.contains(&s.as_str())) {
        Some(other) => {
            let why = format!(
                "A self-registered application may ask only for openid, profile, email and offline_access, not {other:?}; an admin can give it more."
            );
            Err(Refused::Metadata(Invalid::new(why).on("scope")))
        }
        None => Ok(()),
    }
}

/// Who registers: anyone (open registration), or the holder of an initial access token; with
/// no permission to hand on.
fn registrant(tenant: &Tenant, initial_token: Option<Uuid>, meta: RequestMeta) -> Actor {
    Actor::Key(KeyHolder {
        tenant_id: tenant.id,
        credential: Credential::Registration(initial_token),
        grants: Grants::default(),
        meta,
    })
}

/// The application managing its own registration, with no permission to hand on.
fn application(tenant: &Tenant, client: &Client, meta: RequestMeta) -> Actor {
    Actor::Key(KeyHolder {
        tenant_id: tenant.id,
        credential: Credential::Application(client.client_id.clone()),
        grants: Grants::default(),
        meta,
    })
}

fn target(client: &Client) -> String {
    format!("client:{}", client.client_id)
}
