//! Signing in through an upstream identity provider (a tenant's connection,
//! `domain::connection`): the authorization code flow to the provider with `state`, `nonce`
//! and PKCE S256 on every request (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1, RFC 9700 §2.1),
//! the checks of its answer (one use per `state`, the connection and issuer it came from,
//! RFC 9207), and what the identity it vouches for means here (`accounts`). A SAML 2.0
//! identity provider is reached through `saml` instead.

mod accounts;
mod provider;
pub mod saml;

pub use accounts::{links_of, unlink, LinkView};

use super::login::{self, LoginError};
use crate::crypto::{random_token, sha256_b64url, sha256_hex};
use crate::domain::{
    AuditEvent, Connection, FlowStep, LoginFlow, Outcome, Protocol, RequestMeta, Tenant, Timestamp,
};
use crate::state::AppState;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

/// The store's records of requests sent to providers, keyed by the hash of their `state`.
const PENDING: &str = "upstream";
/// As long as the sign-in itself may take.
const PENDING_SECS: i64 = 600;

/// Why a sign-in through a provider stopped. Each has its own message on the sign-in page
/// ([`UpstreamError::code`]); the details go to the audit log only.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no such connection, or it is disabled")]
    Unknown,
    /// The callback's `state` is unknown, used or expired, or its sign-in is another browser's.
    #[error("unknown, used or expired state, or another browser's")]
    Expired,
    /// The answer names another connection or issuer than the request went to (RFC 9207).
    #[error("mix-up: {0}")]
    MixUp(String),
    /// The provider refused, or the person cancelled there.
    #[error("the provider answered {0}")]
    Refused(String),
    /// The provider's answer failed a check.
    #[error("{0}")]
    Invalid(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// Nobody here has this identity, and the connection does not create accounts.
    #[error("no account is linked to this identity")]
    NoAccount,
    /// The provider gave no email address, which a new account needs.
    #[error("the provider gave no email address for a new account")]
    NoEmail,
    /// The identity is linked to an account that is blocked or deleted.
    #[error("the linked account is blocked or deleted")]
    Blocked,
    #[error(transparent)]
    Login(#[from] LoginError),
}

impl UpstreamError {
    /// The message code of the sign-in page; `None` for an internal fault.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Unknown => "upstream_unknown",
            Self::Expired => "upstream_expired",
            Self::MixUp(_) | Self::Invalid(_) => "upstream_invalid",
            Self::Refused(_) => "upstream_refused",
            Self::Unavailable(_) => "upstream_unavailable",
            Self::NoAccount => "upstream_no_account",
            Self::NoEmail => "upstream_no_email",
            Self::Blocked => "upstream_blocked",
            Self::Login(LoginError::Internal(_)) => return None,
            Self::Login(LoginError::Throttled(_)) => "throttled",
            Self::Login(_) => "expired",
        })
    }
}

impl crate::error::Fault for UpstreamError {
    fn is_outage(&self) -> bool {
        matches!(self, Self::Login(e) if crate::error::Fault::is_outage(e))
    }
}

impl From<crate::store::StoreError> for UpstreamError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Login(e.into())
    }
}

/// What Tessera remembers of a request it sent to a provider, until the answer comes back.
#[derive(Serialize, Deserialize)]
struct Pending {
    flow: String,
    connection: Uuid,
    nonce: String,
    verifier: String,
}

/// The enabled connection `slug` of the tenant.
pub async fn connection(
    state: &AppState,
    tenant: &Tenant,
    slug: &str,
) -> Result<Connection, UpstreamError> {
    if slug.is_empty() || slug.len() > 40 {
        return Err(UpstreamError::Unknown);
    }
    match state.store.connections.by_slug(tenant.id, slug).await? {
        Some(c) if c.enabled => Ok(c),
        _ => Err(UpstreamError::Unknown),
    }
}

/// The enabled connections of the tenant, for the sign-in page's buttons.
pub async fn buttons(state: &AppState, tenant: &Tenant) -> Result<Vec<Connection>, LoginError> {
    let all = state.store.connections.list(tenant.id).await?;
    Ok(all.into_iter().filter(|c| c.enabled).collect())
}

/// Home-realm discovery: the enabled connection that claims the domain of `email`.
pub async fn home_realm(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
) -> Result<Option<Connection>, LoginError> {
    let all = buttons(state, tenant).await?;
    Ok(all.into_iter().find(|c| c.claims_domain_of(email)))
}

/// Where the provider sends the browser back: one address per connection, so that an answer
/// arriving at one connection's address can only be for that connection (RFC 9700 §4.4.2.2).
pub fn callback_url(state: &AppState, tenant: &Tenant, connection: &Connection) -> String {
    let issuer = state.config.issuer(tenant.slug.as_str());
    crate::domain::connection::callback_url(&issuer, &connection.slug)
}

/// Sends sign-in `flow` to the connection's provider: the URL of its authorization request.
/// `login_hint` is the address the person typed, when home-realm discovery chose the provider.
pub async fn begin(
    state: &AppState,
    tenant: &Tenant,
    flow: &LoginFlow,
    connection: &Connection,
    login_hint: Option<&str>,
) -> Result<String, UpstreamError> {
    if matches!(connection.protocol, Protocol::Saml { .. }) {
        return saml::begin(state, tenant, flow, connection).await;
    }
    let endpoints = provider::endpoints(state, tenant, connection).await?;
    let mut url = url::Url::parse(&endpoints.authorization).map_err(|_| {
        UpstreamError::Unavailable("the authorization endpoint is not a URL".into())
    })?;
    let request_state = random_token(32);
    let pending = Pending {
        flow: flow.id.clone(),
        connection: connection.id,
        nonce: random_token(32),
        verifier: random_token(32),
    };
    remember(
        state,
        tenant,
        PENDING,
        &request_state,
        &pending,
        PENDING_SECS,
    )
    .await?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &connection.client_id)
            .append_pair("redirect_uri", &callback_url(state, tenant, connection))
            .append_pair("scope", &connection.scopes.join(" "))
            .append_pair("state", &request_state)
            .append_pair(
                "code_challenge",
                &sha256_b64url(pending.verifier.as_bytes()),
            )
            .append_pair("code_challenge_method", "S256");
        if matches!(connection.protocol, Protocol::Oidc { .. }) {
            query.append_pair("nonce", &pending.nonce);
        }
        if let Some(hint) = login_hint {
            query.append_pair("login_hint", hint);
        }
    }
    Ok(url.into())
}

/// What the provider sent back to the callback (RFC 6749 §4.1.2, RFC 9207 §2).
#[derive(Debug, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub state: String,
    pub code: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
}

/// Takes the provider's answer at connection `slug`'s callback and goes on with the sign-in
/// it belongs to: signed in, or at the step that comes next (a second factor, or proving the
/// account an unlinked identity would link to). Every refusal is audited.
pub async fn finish(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    answer: Answer,
) -> Result<LoginFlow, (UpstreamError, Option<String>)> {
    let mut flow_id = None;
    let outcome = checked(state, session, meta, tenant, slug, answer, &mut flow_id).await;
    audited(state, meta, tenant, slug, outcome, flow_id).await
}

/// Keeps `value` in the store, under the hash of `token` (which only the browser carries),
/// for `secs`.
async fn remember<T: Serialize>(
    state: &AppState,
    tenant: &Tenant,
    kind: &str,
    token: &str,
    value: &T,
    secs: i64,
) -> Result<(), UpstreamError> {
    let value = serde_json::to_string(value)
        .map_err(|e| LoginError::Internal(crate::error::AppError::internal(e)))?;
    let expires = Timestamp::now().plus_secs(secs);
    (state.store.artifacts)
        .put_ephemeral(tenant.id, kind, &sha256_hex(token), &value, expires)
        .await?;
    Ok(())
}

/// Takes what [`remember`] kept under `token`: once, whoever asks first; `Expired` when there
/// is nothing (never kept, taken already, or expired).
async fn recall<T: DeserializeOwned>(
    state: &AppState,
    tenant: &Tenant,
    kind: &str,
    token: &str,
) -> Result<T, UpstreamError> {
    let taken = (state.store.artifacts)
        .take_ephemeral(tenant.id, kind, &sha256_hex(token))
        .await?;
    taken
        .and_then(|record| serde_json::from_str(&record.value).ok())
        .ok_or(UpstreamError::Expired)
}

/// The outcome of a step of a sign-in through connection `slug`, with the sign-in it belongs
/// to (`flow_id`, when known) on a refusal, whose reason goes to the audit log (an internal
/// fault is logged instead).
async fn audited<T>(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    outcome: Result<T, UpstreamError>,
    flow_id: Option<String>,
) -> Result<T, (UpstreamError, Option<String>)> {
    if let Err(e) = &outcome {
        if !matches!(e, UpstreamError::Login(LoginError::Internal(_))) {
            let event = AuditEvent::new(tenant.id, "login.upstream", Outcome::Failure, "anonymous")
                .target(format!("connection:{slug}"))
                .reason(e.to_string());
            state.audit(event, meta).await;
        }
    }
    outcome.map_err(|e| (e, flow_id))
}

/// The sign-in `flow_id` of this browser, not yet finished; `Expired` when it is another
/// browser's, gone, or done.
async fn unfinished_flow(
    state: &AppState,
    session: &Session,
    tenant: &Tenant,
    flow_id: &str,
) -> Result<LoginFlow, UpstreamError> {
    let flow = login::load_flow(state, session, tenant, flow_id)
        .await
        .map_err(|e| match e {
            LoginError::Internal(e) => UpstreamError::Login(LoginError::Internal(e)),
            _ => UpstreamError::Expired,
        })?;
    if matches!(flow.step, FlowStep::Authenticated { .. }) {
        return Err(UpstreamError::Expired);
    }
    Ok(flow)
}

async fn checked(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    answer: Answer,
    flow_id: &mut Option<String>,
) -> Result<LoginFlow, UpstreamError> {
    if answer.state.is_empty() || answer.state.len() > 200 {
        return Err(UpstreamError::Expired);
    }
    // Single use: the record is gone once taken, so a replayed answer finds nothing.
    let pending: Pending = recall(state, tenant, PENDING, &answer.state).await?;
    let flow = unfinished_flow(state, session, tenant, &pending.flow).await?;
    *flow_id = Some(flow.id.clone());
    let connection = connection(state, tenant, slug).await?;
    if connection.id != pending.connection {
        return Err(UpstreamError::MixUp(format!(
            "the request went to another connection than {slug}"
        )));
    }
    let endpoints = provider::endpoints(state, tenant, &connection).await?;
    check_issuer(&connection, &endpoints, answer.iss.as_deref())?;
    if let Some(error) = answer.error {
        let error: String = error.chars().take(100).collect();
        return Err(UpstreamError::Refused(error));
    }
    let code = answer
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2000)
        .ok_or_else(|| UpstreamError::Invalid("the answer has no code".into()))?;
    let secret = open_secret(state, &connection)?;
    let tokens = provider::redeem(
        state,
        &connection,
        secret.as_deref(),
        &endpoints,
        &code,
        &pending.verifier,
        &callback_url(state, tenant, &connection),
    )
    .await?;
    let identity = identity_of(state, tenant, &connection, &endpoints, &tokens, &pending).await?;
    accounts::sign_in(state, session, meta, tenant, flow, &connection, identity).await
}

/// RFC 9207 §2.4: an `iss` must be the connection's issuer; a provider that promises to send it
/// must have sent it. An OAuth 2 provider has no issuer to compare.
fn check_issuer(
    connection: &Connection,
    endpoints: &provider::Endpoints,
    iss: Option<&str>,
) -> Result<(), UpstreamError> {
    match (connection.protocol.issuer(), iss) {
        (Some(expected), Some(got)) if got != expected => Err(UpstreamError::MixUp(format!(
            "the answer names the issuer {got:?}"
        ))),
        (Some(_), None) if endpoints.sends_iss => Err(UpstreamError::MixUp(
            "the provider promises an iss parameter and sent none".into(),
        )),
        _ => Ok(()),
    }
}

async fn identity_of(
    state: &AppState,
    tenant: &Tenant,
    connection: &Connection,
    endpoints: &provider::Endpoints,
    tokens: &provider::Tokens,
    pending: &Pending,
) -> Result<provider::Identity, UpstreamError> {
    let access = &tokens.access_token;
    let mut identity = match &connection.protocol {
        Protocol::Oidc { .. } => {
            let id_token = tokens
                .id_token
                .as_deref()
                .ok_or_else(|| UpstreamError::Invalid("the provider sent no ID token".into()))?;
            let claims = provider::verify_id_token(
                state,
                tenant,
                connection,
                endpoints,
                id_token,
                &pending.nonce,
            )
            .await?;
            let mut identity = provider::identity(connection, &claims)?;
            if let (None, Some(url)) = (&identity.email, &endpoints.userinfo) {
                identity = more_from_userinfo(state, connection, url, access, identity).await?;
            }
            identity
        }
        Protocol::OAuth2 {
            userinfo_endpoint, ..
        } => {
            let claims = provider::userinfo(state, userinfo_endpoint, access).await?;
            provider::identity(connection, &claims)?
        }
        Protocol::Saml { .. } => return Err(UpstreamError::Unknown),
    };
    if connection.preset == crate::domain::Preset::GitHub {
        identity.email = provider::github_email(state, access).await?;
        identity.email_verified = identity.email.is_some();
    }
    Ok(identity)
}

/// The email and name from userinfo, when the ID token lacked them; its `sub` must be the ID
/// token's (OIDC Core §5.3.2).
async fn more_from_userinfo(
    state: &AppState,
    connection: &Connection,
    url: &str,
    access_token: &str,
    identity: provider::Identity,
) -> Result<provider::Identity, UpstreamError> {
    let claims = provider::userinfo(state, url, access_token).await?;
    let more = provider::identity(connection, &claims)?;
    if more.subject != identity.subject {
        return Err(UpstreamError::Invalid(
            "userinfo describes another person than the ID token".into(),
        ));
    }
    Ok(provider::Identity {
        name: identity.name.or(more.name),
        ..more
    })
}

/// The connection's client secret, opened with the encryption key.
fn open_secret(state: &AppState, connection: &Connection) -> Result<Option<String>, UpstreamError> {
    let Some(sealed) = &connection.client_secret else {
        return Ok(None);
    };
    let broken = |why: String| {
        UpstreamError::Login(LoginError::Internal(crate::error::AppError::internal(why)))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|e| broken(e.to_string()))?;
    let plain = state
        .secrets
        .open(&bytes, &format!("connection:{}", connection.id))
        .map_err(|e| broken(e.to_string()))?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|e| broken(e.to_string()))
}
