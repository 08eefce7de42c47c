use super::{one_line, Invalid, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One security-relevant event: who did what to what, from where, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub at: Timestamp,
    /// Dotted name such as `login.password` or `token.issued`.
    pub action: String,
    pub outcome: Outcome,
    /// `user:<id>`, `client:<client_id>`, `cli` or `anonymous`.
    pub actor: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Why it failed (or a detail of success); never a secret.
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// Why an admin made a change that needs one (resetting someone's factors): it goes into
    /// the log.
    pub fn check_reason(raw: &str) -> Result<String, Invalid> {
        match one_line(raw, 500) {
            Some(reason) if !reason.is_empty() => Ok(reason.to_owned()),
            _ => Err(Invalid::new(
                "Say why, in at most 500 characters on one line: the reason goes into the audit log.",
            )
            .on("reason")),
        }
    }

    pub fn new(
        tenant_id: TenantId,
        action: &str,
        outcome: Outcome,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            at: Timestamp::now(),
            action: action.to_owned(),
            outcome,
            actor: actor.into(),
            target: None,
            ip: None,
            user_agent: None,
            reason: None,
            request_id: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}
