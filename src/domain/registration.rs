//! Dynamic client registration (RFC 7591): the tenant's initial access tokens, which let an
//! application register itself a limited number of times before an expiry. Only the SHA-256
//! hash of a token is stored.

use super::access::check_name;
use super::{Invalid, TenantId, Timestamp};
use uuid::Uuid;

/// Every initial access token starts with this, so secret scanners recognise a leaked one.
pub const PREFIX: &str = "tsi_";
/// Every registration access token (RFC 7592 §1.1) starts with this.
pub const MANAGEMENT_PREFIX: &str = "tsr_";
/// How long a token may live, in days: the choices the console offers.
pub const LIFETIMES_DAYS: [i64; 4] = [1, 7, 30, 90];
/// The most registrations one token allows.
pub const MAX_USES: i64 = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialAccessToken {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// The token's first characters (the prefix and 6 more), never enough to use it.
    pub hint: String,
    /// SHA-256 (hex) of the whole token.
    pub hash: String,
    /// Registrations it allows, and those made with it.
    pub max_uses: i64,
    pub uses: i64,
    /// Who made it: `user:<id>` or `cli`.
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Where a token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialTokenStatus {
    Active,
    UsedUp,
    Expired,
    Revoked,
}

impl InitialTokenStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::UsedUp => "Used up",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }
}

impl InitialAccessToken {
    /// A new token record for the secret whose hash is `hash`; checks the name, the number of
    /// uses and the lifetime.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant_id: TenantId,
        name: &str,
        max_uses: i64,
        lifetime_days: i64,
        hint: String,
        hash: String,
        created_by: String,
        now: Timestamp,
    ) -> Result<Self, Invalid> {
        let name = check_name(name)?;
        if !(1..=MAX_USES).contains(&max_uses) {
            let why = format!("A token allows 1 to {MAX_USES} registrations.");
            return Err(Invalid::new(why).on("max_uses"));
        }
        if !LIFETIMES_DAYS.contains(&lifetime_days) {
            return Err(Invalid::new("A token lives 1, 7, 30 or 90 days.").on("expires"));
        }
        Ok(Self {
            id: Uuid::now_v7(),
            tenant_id,
            name,
            hint,
            hash,
            max_uses,
            uses: 0,
            created_by,
            created_at: now,
            expires_at: now.plus_secs(lifetime_days * 86_400),
            revoked_at: None,
        })
    }

    pub fn status(&self, now: Timestamp) -> InitialTokenStatus {
        if self.revoked_at.is_some() {
            InitialTokenStatus::Revoked
        } else if !now.is_before(self.expires_at) {
            InitialTokenStatus::Expired
        } else if self.uses >= self.max_uses {
            InitialTokenStatus::UsedUp
        } else {
            InitialTokenStatus::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(uses: i64, days: i64) -> Result<InitialAccessToken, Invalid> {
        let now = Timestamp::from_unix(1_000_000);
        InitialAccessToken::new(
            TenantId::generate(),
            "Partner onboarding",
            uses,
            days,
            "tsi_abcdef".into(),
            "00".repeat(32),
            "cli".into(),
            now,
        )
    }

    #[test]
    fn uses_and_lifetime_are_bounded() {
        assert_eq!(token(0, 7).unwrap_err().field(), Some("max_uses"));
        assert_eq!(token(MAX_USES + 1, 7).unwrap_err().field(), Some("max_uses"));
        assert_eq!(token(5, 2).unwrap_err().field(), Some("expires"));
        assert!(token(5, 7).is_ok());
    }

    #[test]
    fn status_follows_revocation_expiry_and_uses() {
        let mut t = token(2, 1).unwrap();
        let soon = t.created_at.plus_secs(60);
        assert_eq!(t.status(soon), InitialTokenStatus::Active);
        t.uses = 2;
        assert_eq!(t.status(soon), InitialTokenStatus::UsedUp);
        assert_eq!(t.status(t.expires_at), InitialTokenStatus::Expired);
        t.revoked_at = Some(soon);
        assert_eq!(t.status(soon), InitialTokenStatus::Revoked);
    }
}
