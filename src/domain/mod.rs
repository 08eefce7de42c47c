//! Plain types and their rules. No I/O lives here. The module is compiled into the browser
//! code too: console forms run the same rules as the server as people type.

pub mod access;
pub mod api_key;
mod audit;
pub mod branding;
mod client;
pub mod colour;
pub mod connection;
mod email;
mod factor;
mod ids;
pub mod insights;
mod job;
mod oidc;
pub mod registration;
mod request;
mod session;
mod tenant;
mod time;
mod user;
pub mod webhook;

pub use access::{Grants, Permission, Role, Team};
pub use api_key::{ApiKey, KeyStatus};
pub use audit::{AuditEvent, Outcome};
pub use branding::{Branding, Logo};
pub use client::{
    fetchable_url, uri_lines, AppType, Client, ClientType, ExchangePolicy, GrantType, RedirectUri,
    TokenAuthMethod,
};
pub use connection::{ClaimMapping, Connection, LinkedIdentity, Preset, Protocol};
pub use email::Email;
pub use factor::{acr, Factor, FactorKind};
pub use ids::{ClientKey, TenantId, UserId};
pub use job::{Job, JobBacklog};
pub use oidc::{
    AccessTokenRecord, AuthorizationCode, AuthorizationRequest, Consent, DeviceGrant, DeviceStatus,
    FlowStep, KeyState, LoginFlow, RefreshToken, ResponseMode, SigningAlg, SigningKey,
    UpstreamSignIn,
};
pub use registration::{InitialAccessToken, InitialTokenStatus};
pub use request::RequestMeta;
pub use session::{BrowserSessionRecord, UserSession};
pub use tenant::{Placement, Tenant, TenantSettings, TenantSlug, TenantStatus};
pub use time::Timestamp;
pub use user::User;
pub use webhook::{DeliveryAttempt, WebhookEndpoint};

/// A rule a value broke; the message is safe to show to the person who supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    message: String,
    field: Option<&'static str>,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
        }
    }

    /// Names the form field the value came from, so that a form can show the message next
    /// to it.
    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// A whole number typed into a form field (`what` names it in the message).
pub fn whole_number(raw: &str, what: &str) -> Result<i64, Invalid> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (0..=1_000_000_000).contains(n))
        .ok_or_else(|| Invalid::new(format!("{what} is a whole number.")))
}

/// The unit a form asks a length of time in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    fn secs(self) -> i64 {
        match self {
            Self::Seconds => 1,
            Self::Minutes => 60,
            Self::Hours => 3600,
            Self::Days => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Minutes => "minutes",
            Self::Hours => "hours",
            Self::Days => "days",
        }
    }
}

/// A length of time typed into a form as a whole number of `unit`, in seconds.
pub fn typed_duration(raw: &str, unit: TimeUnit, what: &str) -> Result<i64, Invalid> {
    let count = raw
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (0..=1_000_000_000).contains(n))
        .ok_or_else(|| Invalid::new(format!("{what} is a whole number of {}.", unit.name())))?;
    Ok(count * unit.secs())
}

/// A length of time in words, in the largest unit that divides it: "30 days", "5 minutes".
pub fn duration_words(secs: i64) -> String {
    let (count, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| secs != 0 && secs % size == 0)
        .map(|(size, unit)| (secs / size, unit))
        .unwrap_or((secs, "second"));
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// A lifetime within its bounds; the message gives them in words and names the field.
pub fn lifetime_within(
    secs: i64,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
    field: &'static str,
) -> Result<(), Invalid> {
    if range.contains(&secs) {
        return Ok(());
    }
    let (least, most) = (duration_words(*range.start()), duration_words(*range.end()));
    Err(Invalid::new(format!("{what} is {least} to {most}.")).on(field))
}

/// Text on one line, at most `max` characters: names and descriptions.
pub fn one_line(raw: &str, max: usize) -> Option<&str> {
    let text = raw.trim();
    (text.chars().count() <= max && !text.chars().any(char::is_control)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_words(300), "5 minutes");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(30 * 86_400), "30 days");
        assert_eq!(duration_words(90), "90 seconds");
        assert_eq!(
            typed_duration(" 8 ", TimeUnit::Hours, "It").unwrap(),
            8 * 3600
        );
        assert_eq!(
            typed_duration("8h", TimeUnit::Hours, "The lifetime")
                .unwrap_err()
                .message(),
            "The lifetime is a whole number of hours."
        );
    }

    #[test]
    fn numbers_and_lines() {
        assert_eq!(whole_number(" 42 ", "It").unwrap(), 42);
        for bad in ["", "4.5", "-1", "ten", "99999999999"] {
            assert!(whole_number(bad, "It").is_err(), "{bad:?}");
        }
        assert_eq!(one_line("  Ops team ", 60), Some("Ops team"));
        assert_eq!(one_line("two\nlines", 60), None);
        assert_eq!(one_line(&"x".repeat(61), 60), None);
    }
}
