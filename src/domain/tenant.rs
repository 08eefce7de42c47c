use super::{lifetime_within, one_line, Branding, FactorKind, Invalid, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The URL name of a tenant: `/t/{slug}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub const DEFAULT: &'static str = "default";
    /// The tenant of the installation's operators, who sign in there to use the platform
    /// console at `/admin`.
    pub const OPERATORS: &'static str = "_ops";
    /// Kept for the installation; no tenant gets it.
    pub const PLATFORMS: &'static str = "_platforms";
    /// Names the installation keeps for itself: they parse (stored tenants decode), but
    /// [`TenantSlug::parse_new`] refuses them.
    pub const RESERVED: [&'static str; 2] = [Self::OPERATORS, Self::PLATFORMS];

    /// Any slug a tenant can have, the reserved ones included.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if Self::RESERVED.contains(&raw) {
            return Ok(Self(raw.to_owned()));
        }
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
            )
            .on("slug"))
        }
    }

    /// The slug of a tenant someone creates: the reserved names are refused.
    pub fn parse_new(raw: &str) -> Result<Self, Invalid> {
        let slug = Self::parse(raw)?;
        if slug.is_reserved() {
            return Err(Invalid::new(format!(
                "The name {raw} is reserved for the installation; choose another."
            ))
            .on("slug"));
        }
        Ok(slug)
    }

    pub fn is_reserved(&self) -> bool {
        Self::RESERVED.contains(&self.as_str())
    }

    /// The operators' tenant (`_ops`).
    pub fn is_operators(&self) -> bool {
        self.0 == Self::OPERATORS
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
    /// NIST SP 800-63B §5.1.1.2: a minimum length (8 or more), no composition rules.
    pub password_min_length: usize,
    /// Refuse passwords from the built-in list of commonly used ones.
    pub block_common_passwords: bool,
    /// Default lifetime of access and ID tokens for new clients, in seconds.
    pub access_token_secs: i64,
    /// People may create their own account (confirmed by a link sent to their address).
    pub self_signup: bool,
    /// RFC 7591 §3: applications may register themselves without an initial access token.
    pub open_registration: bool,
    pub branding: Branding,
}

impl TenantSettings {
    pub fn allows(&self, kind: FactorKind) -> bool {
        kind == FactorKind::BackupCodes || self.allowed_factors.contains(&kind)
    }

    /// The bounds an admin may set; each message says which value is wrong and why, and
    /// names its field.
    pub fn validate(&self) -> Result<(), Invalid> {
        Self::check_session_lifetime(self.session_lifetime_secs)?;
        Self::check_idle_timeout(self.session_idle_timeout_secs, self.session_lifetime_secs)?;
        Self::check_access_token(self.access_token_secs)?;
        Self::check_refresh_idle(self.refresh_idle_secs)?;
        Self::check_refresh_absolute(self.refresh_absolute_secs, self.refresh_idle_secs)?;
        Self::check_password_min_length(self.password_min_length as i64)?;
        if self.allowed_factors.is_empty()
            || self.allowed_factors.contains(&FactorKind::BackupCodes)
        {
            return Err(Invalid::new(
                "Allow at least one second factor: authenticator apps, email codes or passkeys.",
            )
            .on("allowed_factors"));
        }
        Ok(())
    }

    pub fn check_session_lifetime(secs: i64) -> Result<(), Invalid> {
        lifetime_within(
            secs,
            300..=30 * DAY,
            "A sign-in's lifetime",
            "session_lifetime_secs",
        )
    }

    pub fn check_idle_timeout(secs: i64, session_lifetime_secs: i64) -> Result<(), Invalid> {
        let most = session_lifetime_secs.max(60);
        let what = "The idle timeout (at most the sign-in's lifetime)";
        lifetime_within(secs, 60..=most, what, "session_idle_timeout_secs")
    }

    pub fn check_access_token(secs: i64) -> Result<(), Invalid> {
        let what = "The access token lifetime";
        lifetime_within(secs, 60..=DAY, what, "access_token_secs")
    }

    pub fn check_refresh_idle(secs: i64) -> Result<(), Invalid> {
        let what = "The refresh token idle lifetime";
        lifetime_within(secs, 300..=365 * DAY, what, "refresh_idle_secs")
    }

    pub fn check_refresh_absolute(secs: i64, refresh_idle_secs: i64) -> Result<(), Invalid> {
        let what = "The refresh token absolute lifetime (at least its idle lifetime)";
        lifetime_within(
            secs,
            refresh_idle_secs..=3650 * DAY,
            what,
            "refresh_absolute_secs",
        )
    }

    /// NIST SP 800-63B §5.1.1.2: at least 8 characters; 64 is the least a verifier must allow.
    pub fn check_password_min_length(length: i64) -> Result<(), Invalid> {
        if (8..=64).contains(&length) {
            return Ok(());
        }
        Err(
            Invalid::new("The minimum password length is 8 to 64 characters (NIST SP 800-63B).")
                .on("password_min_length"),
        )
    }
}

const DAY: i64 = 86_400;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            session_lifetime_secs: 8 * 3600,
            session_idle_timeout_secs: 3600,
            refresh_idle_secs: 30 * 24 * 3600,
            refresh_absolute_secs: 90 * 24 * 3600,
            require_mfa: false,
            allowed_factors: FactorKind::ENROLLABLE.to_vec(),
            password_min_length: 8,
            block_common_passwords: true,
            access_token_secs: 600,
            self_signup: false,
            open_registration: false,
            branding: Branding::default(),
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
    pub placement: Placement,
}

/// Where a tenant's users, clients, keys, tokens and audit log live. The registry of tenants
/// (this row, with its name and settings) is always in the main store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Beside other tenants in the main store, told apart by their tenant id.
    #[default]
    Shared,
    /// In a database of its own. `database` is its connection settings, sealed with the
    /// installation's encryption key (they may hold a password); `None` asks the store to
    /// create one when the tenant is created.
    Dedicated { database: Option<String> },
}

impl Placement {
    /// A database of its own, to be created with the tenant.
    pub const NEW_DATABASE: Self = Self::Dedicated { database: None };

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "shared" => Ok(Self::Shared),
            "dedicated" => Ok(Self::NEW_DATABASE),
            _ => Err(Invalid::new(
                "Choose where the tenant's data lives: shared (the main database) or dedicated (a database of its own).",
            )
            .on("placement")),
        }
    }

    pub fn is_dedicated(&self) -> bool {
        matches!(self, Self::Dedicated { .. })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Dedicated { .. } => "dedicated",
        }
    }
}

impl Tenant {
    pub fn new(slug: TenantSlug, name: &str) -> Result<Self, Invalid> {
        Ok(Self {
            id: TenantId::generate(),
            slug,
            name: Self::check_name(name)?,
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: Timestamp::now(),
            placement: Placement::Shared,
        })
    }

    /// The organisation's name, as people see it on its pages.
    pub fn check_name(raw: &str) -> Result<String, Invalid> {
        match one_line(raw, 100) {
            Some(name) if !name.is_empty() => Ok(name.to_owned()),
            _ => Err(Invalid::new("A name is 1 to 100 characters on one line.").on("name")),
        }
    }

    pub fn accepts_sign_ins(&self) -> bool {
        self.status != TenantStatus::Suspended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_the_field_they_refuse() {
        let mut settings = TenantSettings {
            session_idle_timeout_secs: 9 * 3600,
            ..TenantSettings::default()
        };
        let refused = settings.validate().unwrap_err();
        assert_eq!(refused.field(), Some("session_idle_timeout_secs"));
        assert_eq!(
            refused.message(),
            "The idle timeout (at most the sign-in's lifetime) is 1 minute to 8 hours."
        );
        settings.session_idle_timeout_secs = 3600;
        settings.refresh_absolute_secs = settings.refresh_idle_secs - 1;
        let refused = settings.validate().unwrap_err();
        assert_eq!(refused.field(), Some("refresh_absolute_secs"));
        assert!(TenantSettings::check_password_min_length(7).is_err());
        assert!(TenantSettings::check_password_min_length(64).is_ok());
    }

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

    #[test]
    fn reserved_slugs_parse_but_cannot_be_created() {
        for reserved in TenantSlug::RESERVED {
            let slug = TenantSlug::parse(reserved).expect("stored reserved slugs decode");
            assert!(slug.is_reserved());
            assert!(TenantSlug::parse_new(reserved).is_err(), "{reserved}");
        }
        assert!(TenantSlug::parse(TenantSlug::OPERATORS)
            .unwrap()
            .is_operators());
        assert!(TenantSlug::parse_new("acme").is_ok());
        for bad in ["_opsx", "_acme", "ops_", "_"] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
