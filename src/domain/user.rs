use super::{one_line, Email, Invalid, TenantId, Timestamp, UserId};

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
    /// The id a provisioning system knows the person by (SCIM `externalId`, RFC 7643 §3.1).
    pub external_id: Option<String>,
}

impl User {
    pub fn new(tenant_id: TenantId, email: Email, name: Option<&str>) -> Result<Self, Invalid> {
        let name = Self::check_name(name.unwrap_or_default())?;
        let now = Timestamp::now();
        Ok(Self {
            id: UserId::generate(),
            tenant_id,
            email,
            name,
            password_hash: None,
            email_verified: false,
            blocked: false,
            deleted_at: None,
            last_login_at: None,
            login_count: 0,
            created_at: now,
            updated_at: now,
            external_id: None,
        })
    }

    /// A person's name, which they may leave empty.
    pub fn check_name(raw: &str) -> Result<Option<String>, Invalid> {
        let name = one_line(raw, 200).ok_or_else(|| {
            Invalid::new("A name is at most 200 characters on one line.").on("name")
        })?;
        Ok(Some(name.to_owned()).filter(|n| !n.is_empty()))
    }

    /// A provisioning system's id: at most 200 characters on one line; empty is none.
    pub fn check_external_id(raw: &str) -> Result<Option<String>, Invalid> {
        let id = one_line(raw, 200).ok_or_else(|| {
            Invalid::new("An external id is at most 200 characters on one line.").on("externalId")
        })?;
        Ok(Some(id.to_owned()).filter(|id| !id.is_empty()))
    }

    pub fn can_sign_in(&self) -> bool {
        !self.blocked && self.deleted_at.is_none()
    }
}
