//! Plain types and their rules. No I/O lives here.

pub mod access;
mod audit;
pub mod branding;
mod client;
mod email;
mod factor;
mod ids;
mod oidc;
mod session;
mod tenant;
mod time;
mod user;

pub use access::{Grants, Permission, Role, Team};
pub use audit::{AuditEvent, Outcome};
pub use branding::{Branding, Logo};
pub use client::{AppType, Client, ClientType, GrantType, RedirectUri, TokenAuthMethod};
pub use email::Email;
pub use factor::{acr, Factor, FactorKind};
pub use ids::{ClientKey, TenantId, UserId};
pub use oidc::{
    AccessTokenRecord, AuthorizationCode, AuthorizationRequest, Consent, DeviceGrant, DeviceStatus,
    FlowStep, KeyState, LoginFlow, RefreshToken, ResponseMode, SigningAlg, SigningKey,
};
pub use session::{BrowserSessionRecord, UserSession};
pub use tenant::{Tenant, TenantSettings, TenantSlug, TenantStatus};
pub use time::Timestamp;
pub use user::User;

/// A rule a value broke; the message is safe to show to the person who supplied it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
