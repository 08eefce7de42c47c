//! API keys: how another system acts in a tenant without a browser. A key carries a subset of
//! its creator's permissions and an expiry; only its SHA-256 hash is stored.

use super::access::{check_name, Permission};
use super::{Invalid, TenantId, Timestamp};
use uuid::Uuid;

/// Every key starts with this, so secret scanners (and people) recognise a leaked one.
pub const PREFIX: &str = "tsk_";
/// How long a key may live, in days: the choices the console offers.
pub const LIFETIMES_DAYS: [i64; 4] = [7, 30, 90, 365];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// The key's first characters (the prefix and 6 more): enough to tell keys apart, never
    /// enough to use one.
    pub hint: String,
    /// SHA-256 (hex) of the whole key.
    pub hash: String,
    pub permissions: Vec<Permission>,
    /// Who made it: `user:<id>` or `cli`.
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }
}

impl ApiKey {
    /// A new key record for the secret whose hash is `hash`; checks the name, the permissions
    /// (at least one) and the lifetime.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant_id: TenantId,
        name: &str,
        permissions: &[String],
        lifetime_days: i64,
        hint: String,
        hash: String,
        created_by: String,
        now: Timestamp,
    ) -> Result<Self, Invalid> {
        let name = check_name(name)?;
        let mut parsed = permissions
            .iter()
            .map(|p| Permission::parse(p).map_err(|e| e.on("permissions")))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        parsed.dedup();
        if parsed.is_empty() {
            return Err(
                Invalid::new("Choose at least one permission for the key.").on("permissions")
            );
        }
        if !LIFETIMES_DAYS.contains(&lifetime_days) {
            return Err(Invalid::new("A key lives 7, 30, 90 or 365 days.").on("expires"));
        }
        Ok(Self {
            id: Uuid::now_v7(),
            tenant_id,
            name,
            hint,
            hash,
            permissions: parsed,
            created_by,
            created_at: now,
            expires_at: now.plus_secs(lifetime_days * 86_400),
            last_used_at: None,
            revoked_at: None,
        })
    }

    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if !now.is_before(self.expires_at) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// Whether `raw` has the shape of a key: anything else is refused before a hash is computed
/// or storage is asked.
pub fn looks_like_key(raw: &str) -> bool {
    has_secret_shape(PREFIX, raw)
}

/// Whether `raw` is `prefix` then 43 base64url characters (256 random bits), the shape of
/// every secret Tessera hands out with a prefix.
pub fn has_secret_shape(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix).is_some_and(|secret| {
        secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(permissions: &[&str], days: i64) -> Result<ApiKey, Invalid> {
        let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
        ApiKey::new(
            TenantId::generate(),
            "Deploy bot",
            &permissions,
            days,
            "tsk_abcdef".into(),
            "00".into(),
            "cli".into(),
            Timestamp::from_unix(1_000),
        )
    }

    #[test]
    fn a_key_needs_a_known_permission_and_a_listed_lifetime() {
        let k = key(&["users:read", "users:read"], 30).unwrap();
        assert_eq!(k.permissions.len(), 1);
        assert_eq!(k.expires_at, Timestamp::from_unix(1_000 + 30 * 86_400));
        assert!(key(&[], 30).is_err());
        assert!(key(&["users:fly"], 30).is_err());
        assert!(key(&["users:read"], 0).is_err());
        assert!(key(&["users:read"], 10_000).is_err());
    }

    #[test]
    fn status_follows_revocation_and_expiry() {
        let mut k = key(&["users:read"], 7).unwrap();
        assert_eq!(k.status(Timestamp::from_unix(1_001)), KeyStatus::Active);
        assert_eq!(k.status(k.expires_at), KeyStatus::Expired);
        k.revoked_at = Some(Timestamp::from_unix(1_002));
        assert_eq!(k.status(Timestamp::from_unix(1_003)), KeyStatus::Revoked);
    }

    #[test]
    fn only_the_keys_shape_is_looked_up() {
        let good = format!("{PREFIX}{}", "a".repeat(43));
        assert!(looks_like_key(&good));
        assert!(!looks_like_key(&good[1..]));
        assert!(!looks_like_key(&format!("{good}a")));
        assert!(!looks_like_key(&format!("{PREFIX}{}'", "a".repeat(42))));
    }
}
