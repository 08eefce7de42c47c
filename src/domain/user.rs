use super::{Email, Invalid, TenantId, Timestamp, UserId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub name: Option<String>,
    /// Argon2id PHC string; `None` for accounts that sign in another way (invitations, passkeys).
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub blocked: bool,
    pub deleted_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub login_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn new(tenant_id: TenantId, email: Email, name: Option<&str>) -> Result<Self, Invalid> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
            return Err(Invalid::new(
                "A name is at most 200 characters, without control characters.",
            ));
        }
        let now = Timestamp::now();
        Ok(Self {
            id: UserId::generate(),
            tenant_id,
            email,
            name: name.map(str::to_owned),
            password_hash: None,
            email_verified: false,
            blocked: false,
            deleted_at: None,
            last_login_at: None,
            login_count: 0,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn can_sign_in(&self) -> bool {
        !self.blocked && self.deleted_at.is_none()
    }
}
