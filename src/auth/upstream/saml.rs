//! SAML 2.0 Web Browser SSO with Tessera as the service provider (SAML Profiles §4.1): an
//! AuthnRequest to the identity provider by HTTP-Redirect, its Response back by HTTP-POST to
//! the connection's assertion consumer service (ACS), checked (`response`), and then the same
//! accounts as every connection (`super::accounts`).
//!
//! The Response arrives as a cross-site POST, which carries no SameSite=Lax session cookie:
//! the ACS checks it and keeps the person it vouches for under a one-time handle, then sends
//! the browser on (303) to a GET of the ACS with that handle, where the session is present and
//! the sign-in must be this browser's.

mod metadata;
mod response;

pub use metadata::{summary as certificate_summary, CertificateSummary, IdpMetadata};

use super::provider::Identity;
use super::{accounts, UpstreamError};
use crate::auth::login::LoginError;
use crate::crypto::{random_token, sha256_hex};
use crate::domain::{Connection, Invalid, LoginFlow, Protocol, RequestMeta, Tenant};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::StoreError;
use samael::metadata::HTTP_POST_BINDING;
use samael::schema::{AuthnRequest, Issuer};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

/// Requests sent to identity providers, keyed by the hash of their RelayState.
const PENDING: &str = "saml";
/// As long as the sign-in at the provider may take.
const PENDING_SECS: i64 = 600;
/// Checked responses waiting for their browser, keyed by the hash of their handle.
const VOUCHED: &str = "saml-vouched";
/// The browser comes straight on from the ACS.
const VOUCHED_SECS: i64 = 120;
/// The ids of assertions taken (the replay cache), keyed by the hash of issuer and id.
const SEEN: &str = "saml-assertion";

/// What Tessera remembers of an AuthnRequest until the Response comes back.
#[derive(Serialize, Deserialize)]
struct Pending {
    flow: String,
    connection: Uuid,
    request: String,
}

/// A checked Response, waiting for the browser whose sign-in it answers.
#[derive(Serialize, Deserialize)]
struct Vouched {
    flow: String,
    connection: Uuid,
    identity: Identity,
}

/// The identity provider's metadata read for a connection (the console's set-up).
pub fn parse_metadata(
    xml: &str,
    sso_url: impl Fn(&str) -> Result<String, Invalid>,
) -> Result<IdpMetadata, Invalid> {
    metadata::parse(xml, sso_url)
}

/// Where the identity provider posts its responses for `connection`.
pub fn acs_url(state: &AppState, tenant: &Tenant, connection: &Connection) -> String {
    let issuer = state.config.issuer(tenant.slug.as_str());
    crate::domain::connection::acs_url(&issuer, &connection.slug)
}

/// The service-provider metadata of SAML connection `slug`, to register at its identity
/// provider: served whether the connection is enabled or not, since it is registered there
/// before it is switched on. `None` when the tenant has no SAML connection `slug`.
pub async fn sp_metadata(
    state: &AppState,
    tenant: &Tenant,
    slug: &str,
) -> Result<Option<String>, AppError> {
    if slug.is_empty() || slug.len() > 40 {
        return Ok(None);
    }
    let connection = match state.store.connections.by_slug(tenant.id, slug).await? {
        Some(c) if matches!(c.protocol, Protocol::Saml { .. }) => c,
        _ => return Ok(None),
    };
    let acs = acs_url(state, tenant, &connection);
    metadata::service_provider(&connection.client_id, &acs)
        .map(Some)
        .map_err(AppError::internal)
}

fn internal(e: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Login(LoginError::Internal(AppError::internal(e.to_string())))
}

/// Sends sign-in `flow` to the connection's identity provider: the URL of its AuthnRequest
/// (SAML Bindings §3.4, HTTP-Redirect, unsigned: the provider answers only to the ACS its
/// metadata names for Tessera).
pub async fn begin(
    state: &AppState,
    tenant: &Tenant,
    flow: &LoginFlow,
    connection: &Connection,
) -> Result<String, UpstreamError> {
    let Protocol::Saml { sso_url, .. } = &connection.protocol else {
        return Err(UpstreamError::Unknown);
    };
    let relay_state = random_token(32);
    // An xs:ID starts with a letter or an underscore.
    let request = format!("_{}", random_token(32));
    let pending = Pending {
        flow: flow.id.clone(),
        connection: connection.id,
        request: request.clone(),
    };
    super::remember(state, tenant, PENDING, &relay_state, &pending, PENDING_SECS).await?;
    let authn_request = AuthnRequest {
        id: request,
        version: "2.0".into(),
        issue_instant: chrono::Utc::now(),
        destination: Some(sso_url.clone()),
        issuer: Some(Issuer {
            value: Some(connection.client_id.clone()),
            ..Issuer::default()
        }),
        assertion_consumer_service_url: Some(acs_url(state, tenant, connection)),
        protocol_binding: Some(HTTP_POST_BINDING.into()),
        ..AuthnRequest::default()
    };
    match authn_request.redirect(&relay_state) {
        Ok(Some(url)) => Ok(url.into()),
        Ok(None) => Err(internal("the AuthnRequest has no destination")),
        Err(e) => Err(UpstreamError::Unavailable(format!(
            "the single sign-on address is unusable: {e}"
        ))),
    }
}

/// What the identity provider posts to the ACS (SAML Bindings §3.5).
#[derive(Debug, Default, Deserialize)]
pub struct Posted {
    #[serde(rename = "SAMLResponse", default)]
    pub response: String,
    #[serde(rename = "RelayState", default)]
    pub relay_state: String,
}

/// Takes the identity provider's Response at connection `slug`'s ACS. When every check
/// passes, the handle under which the person it vouches for waits for the browser. Every
/// refusal is audited.
pub async fn consume(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    posted: Posted,
) -> Result<String, (UpstreamError, Option<String>)> {
    let mut flow_id = None;
    let outcome = checked(state, tenant, slug, posted, &mut flow_id).await;
    super::audited(state, meta, tenant, slug, outcome, flow_id).await
}

async fn checked(
    state: &AppState,
    tenant: &Tenant,
    slug: &str,
    posted: Posted,
    flow_id: &mut Option<String>,
) -> Result<String, UpstreamError> {
    // SAML Bindings §3.4.3: a RelayState is at most 80 bytes.
    if posted.relay_state.is_empty() || posted.relay_state.len() > 80 {
        return Err(UpstreamError::Expired);
    }
    // Single use: the record is gone once taken, so a replayed Response finds nothing.
    let pending: Pending = super::recall(state, tenant, PENDING, &posted.relay_state).await?;
    *flow_id = Some(pending.flow.clone());
    let connection = super::connection(state, tenant, slug).await?;
    if connection.id != pending.connection {
        return Err(UpstreamError::MixUp(format!(
            "the request went to another connection than {slug}"
        )));
    }
    let Protocol::Saml {
        entity_id,
        certificates,
        ..
    } = &connection.protocol
    else {
        return Err(UpstreamError::Unknown);
    };
    let expected = response::Expected {
        sp_entity_id: connection.client_id.clone(),
        acs_url: acs_url(state, tenant, &connection),
        request_id: pending.request,
        idp_entity_id: entity_id.clone(),
        certificates: certificates.clone(),
        claims: connection.claims.clone(),
    };
    let verified = verify(expected, posted.response).await?;
    // Defence in depth beside the single-use request: an assertion is taken once, ever.
    let seen = sha256_hex(&format!("{entity_id}\n{}", verified.assertion_id));
    match (state.store.artifacts)
        .put_ephemeral(tenant.id, SEEN, &seen, "", verified.usable_until)
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(UpstreamError::Invalid(
                "the assertion was presented before (replay)".into(),
            ))
        }
        other => other?,
    }
    let vouched = Vouched {
        flow: pending.flow,
        connection: connection.id,
        identity: verified.identity,
    };
    let handle = random_token(32);
    super::remember(state, tenant, VOUCHED, &handle, &vouched, VOUCHED_SECS).await?;
    Ok(handle)
}

/// The XML work (libxml2, libxmlsec1) on a blocking thread.
async fn verify(
    expected: response::Expected,
    encoded: String,
) -> Result<response::Verified, UpstreamError> {
    if encoded.is_empty() {
        return Err(UpstreamError::Invalid(
            "the post has no SAMLResponse".into(),
        ));
    }
    let checked = tokio::task::spawn_blocking(move || response::verify(&expected, &encoded))
        .await
        .map_err(internal)?;
    checked.map_err(|refusal| match refusal {
        response::Refusal::NotSignedIn(status) => UpstreamError::Refused(status),
        response::Refusal::Invalid(why) => UpstreamError::Invalid(why),
    })
}

/// The browser, back from the ACS with `handle`: goes on with its sign-in for the person the
/// Response vouched for. Another browser's sign-in is refused. Every refusal is audited.
pub async fn resume(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    handle: &str,
) -> Result<LoginFlow, (UpstreamError, Option<String>)> {
    let mut flow_id = None;
    let outcome = resumed(state, session, meta, tenant, slug, handle, &mut flow_id).await;
    super::audited(state, meta, tenant, slug, outcome, flow_id).await
}

async fn resumed(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    slug: &str,
    handle: &str,
    flow_id: &mut Option<String>,
) -> Result<LoginFlow, UpstreamError> {
    if handle.is_empty() || handle.len() > 200 {
        return Err(UpstreamError::Expired);
    }
    let vouched: Vouched = super::recall(state, tenant, VOUCHED, handle).await?;
    let flow = super::unfinished_flow(state, session, tenant, &vouched.flow).await?;
    *flow_id = Some(flow.id.clone());
    let connection = super::connection(state, tenant, slug).await?;
    if connection.id != vouched.connection {
        return Err(UpstreamError::MixUp(format!(
            "the response was for another connection than {slug}"
        )));
    }
    accounts::sign_in(
        state,
        session,
        meta,
        tenant,
        flow,
        &connection,
        vouched.identity,
    )
    .await
}
