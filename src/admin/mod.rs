//! Use cases of the consoles and the command line. Each takes the acting party, so the console
//! (a later issue) can check permissions here before anything touches storage.

pub mod clients;
pub mod keys;
pub mod tenants;
pub mod users;

use crate::domain::{AuditEvent, Outcome, TenantId};
use crate::http::RequestMeta;
use crate::state::AppState;

/// Who is making a change.
#[derive(Clone, Debug)]
pub enum Actor {
    /// The operator at the command line, who has full access to the installation.
    Cli,
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Cli => "cli".into(),
        }
    }
}

async fn audit(state: &AppState, actor: &Actor, tenant: TenantId, action: &str, target: String) {
    let event =
        AuditEvent::new(tenant, action, Outcome::Success, actor.audit_name()).target(target);
    state.audit(event, &RequestMeta::default()).await;
}
