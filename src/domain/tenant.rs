use super::{FactorKind, Invalid, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The URL name of a tenant: `/t/{slug}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub const DEFAULT: &'static str = "default";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (2..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "A tenant slug is 2 to 63 lower-case letters, digits or hyphens, and does not start or end with a hyphen.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantSlug> for String {
    fn from(value: TenantSlug) -> Self {
        value.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Trial,
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trial => "trial",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "trial" => Some(Self::Trial),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// Per-tenant policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Absolute lifetime of a browser sign-in, in seconds.
    pub session_lifetime_secs: i64,
    /// A sign-in unused for this long ends, in seconds.
    pub session_idle_timeout_secs: i64,
    /// Default idle lifetime of refresh tokens for new clients, in seconds.
    pub refresh_idle_secs: i64,
    /// Default absolute lifetime of refresh-token families for new clients, in seconds.
    pub refresh_absolute_secs: i64,
    /// Everyone signs in with a second factor; those without one enrol at their next sign-in.
    pub require_mfa: bool,
    /// The factors people may enrol and sign in with.
    pub allowed_factors: Vec<FactorKind>,
}

impl TenantSettings {
    pub fn allows(&self, kind: FactorKind) -> bool {
        kind == FactorKind::BackupCodes || self.allowed_factors.contains(&kind)
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            session_lifetime_secs: 8 * 3600,
            session_idle_timeout_secs: 3600,
            refresh_idle_secs: 30 * 24 * 3600,
            refresh_absolute_secs: 90 * 24 * 3600,
            require_mfa: false,
            allowed_factors: FactorKind::ENROLLABLE.to_vec(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub status: TenantStatus,
    pub settings: TenantSettings,
    pub created_at: Timestamp,
}

impl Tenant {
    pub fn new(slug: TenantSlug, name: &str) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Invalid::new("A tenant name is 1 to 100 characters."));
        }
        Ok(Self {
            id: TenantId::generate(),
            slug,
            name: name.to_owned(),
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: Timestamp::now(),
        })
    }

    pub fn accepts_sign_ins(&self) -> bool {
        self.status != TenantStatus::Suspended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(TenantSlug::parse("default").is_ok());
        assert!(TenantSlug::parse("acme-2").is_ok());
        for bad in [
            "", "a", "Acme", "-acme", "acme-", "ac me", "ac/me", "ümlaut",
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
