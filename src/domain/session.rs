use super::{TenantId, Timestamp, UserId};

/// A person signed in to one tenant from one browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSession {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub auth_time: Timestamp,
    /// Authentication Methods References (RFC 8176) of the factors used.
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl UserSession {
    pub fn is_active(&self, now: Timestamp, idle_timeout_secs: i64) -> bool {
        self.revoked_at.is_none()
            && now.is_before(self.expires_at)
            && now.is_before(self.last_seen_at.plus_secs(idle_timeout_secs))
    }
}

/// What `tower-sessions` keeps for a browser, keyed by the SHA-256 of its cookie value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSessionRecord {
    pub id_hash: String,
    pub data: String,
    pub expires_at: Timestamp,
}
