//! Plain types and their rules. No I/O lives here. `colour` has no dependencies and is also
//! compiled into the browser code, so its rules give instant feedback there.

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
mod audit;
#[cfg(feature = "ssr")]
pub mod branding;
#[cfg(feature = "ssr")]
mod client;
pub mod colour;
#[cfg(feature = "ssr")]
mod email;
#[cfg(feature = "ssr")]
mod factor;
#[cfg(feature = "ssr")]
mod ids;
#[cfg(feature = "ssr")]
mod oidc;
#[cfg(feature = "ssr")]
mod session;
#[cfg(feature = "ssr")]
mod tenant;
#[cfg(feature = "ssr")]
mod time;
#[cfg(feature = "ssr")]
mod user;

#[cfg(feature = "ssr")]
pub use access::{Grants, Permission, Role, Team};
#[cfg(feature = "ssr")]
pub use audit::{AuditEvent, Outcome};
#[cfg(feature = "ssr")]
pub use branding::{Branding, Logo};
#[cfg(feature = "ssr")]
pub use client::{AppType, Client, ClientType, GrantType, RedirectUri, TokenAuthMethod};
#[cfg(feature = "ssr")]
pub use email::Email;
#[cfg(feature = "ssr")]
pub use factor::{acr, Factor, FactorKind};
#[cfg(feature = "ssr")]
pub use ids::{ClientKey, TenantId, UserId};
#[cfg(feature = "ssr")]
pub use oidc::{
    AccessTokenRecord, AuthorizationCode, AuthorizationRequest, Consent, DeviceGrant, DeviceStatus,
    FlowStep, KeyState, LoginFlow, RefreshToken, ResponseMode, SigningAlg, SigningKey,
};
#[cfg(feature = "ssr")]
pub use session::{BrowserSessionRecord, UserSession};
#[cfg(feature = "ssr")]
pub use tenant::{Tenant, TenantSettings, TenantSlug, TenantStatus};
#[cfg(feature = "ssr")]
pub use time::Timestamp;
#[cfg(feature = "ssr")]
pub use user::User;

/// A rule a value broke; the message is safe to show to the person who supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}
