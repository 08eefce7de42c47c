use super::{TenantId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// A way to prove who you are beyond the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A one-time code sent to the account's email address.
    EmailCode,
    /// A WebAuthn passkey or security key.
    Passkey,
    /// Ten single-use recovery codes; they stand in for a lost factor, never alone.
    BackupCodes,
}

impl FactorKind {
    /// The kinds a person enrols to sign in with; backup codes come with them.
    pub const ENROLLABLE: [Self; 3] = [Self::Totp, Self::EmailCode, Self::Passkey];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::EmailCode => "email_code",
            Self::Passkey => "passkey",
            Self::BackupCodes => "backup_codes",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "totp" => Some(Self::Totp),
            "email_code" => Some(Self::EmailCode),
            "passkey" => Some(Self::Passkey),
            "backup_codes" => Some(Self::BackupCodes),
            _ => None,
        }
    }

    /// What a person sees.
    pub fn label(self) -> &'static str {
        match self {
            Self::Totp => "Authenticator app",
            Self::EmailCode => "Email codes",
            Self::Passkey => "Passkey",
            Self::BackupCodes => "Backup codes",
        }
    }

    /// The Authentication Method Reference (RFC 8176 §2) for a sign-in with this factor.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Totp | Self::EmailCode | Self::BackupCodes => "otp",
            Self::Passkey => "hwk",
        }
    }
}

/// One enrolled factor of a user. Only active factors are stored: an enrolment becomes a
/// factor once the person has proved it works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub kind: FactorKind,
    /// Chosen by the person for passkeys; the kind's label otherwise.
    pub name: String,
    /// The kind's state as JSON (secrets inside are sealed); opaque to storage.
    pub data: String,
    /// Starts at 1; each compare-and-set update adds one, so two uses cannot both win.
    pub version: i64,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// Authentication Context Class References this server issues (OIDC Core §2, `acr`).
pub mod acr {
    /// Signed in with one factor.
    pub const ONE_FACTOR: &str = "urn:tessera:acr:1fa";
    /// Signed in with two factors, or with a passkey (possession plus user verification).
    pub const MULTI_FACTOR: &str = "urn:tessera:acr:mfa";
    pub const SUPPORTED: [&str; 2] = [ONE_FACTOR, MULTI_FACTOR];

    /// The class a sign-in with these methods (RFC 8176 values) reached.
    pub fn for_amr(amr: &[String]) -> &'static str {
        if amr.iter().any(|m| m == "mfa") {
            MULTI_FACTOR
        } else {
            ONE_FACTOR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_map_to_rfc8176() {
        for kind in FactorKind::ENROLLABLE {
            assert_eq!(FactorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FactorKind::parse("sms"), None);
        assert_eq!(FactorKind::Passkey.amr(), "hwk");
        assert_eq!(acr::for_amr(&["pwd".into()]), acr::ONE_FACTOR);
        assert_eq!(
            acr::for_amr(&["pwd".into(), "otp".into(), "mfa".into()]),
            acr::MULTI_FACTOR
        );
    }
}
