//! Use cases of the consoles and the command line. Each takes the acting party and checks its
//! permissions (see [`access`]) before anything touches storage.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod clients;
pub mod insights;
pub mod keys;
pub mod platform;
pub mod roles;
pub mod tenants;
pub mod users;
pub mod webhooks;

use crate::domain::RequestMeta;
use crate::domain::{AuditEvent, Outcome, TenantId};
use crate::state::AppState;
pub use access::{Credential, KeyHolder, Member};

/// Who is making a change.
#[derive(Clone, Debug)]
pub enum Actor {
    /// The operator at the command line, who has full access to the installation.
    Cli,
    /// A signed-in person in a tenant's console, with the permissions of their roles.
    Member(Member),
    /// Another system, with the permissions of the API key it presented.
    Key(KeyHolder),
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Cli => "cli".into(),
            Actor::Member(m) => format!("user:{}", m.user_id),
            Actor::Key(k) => match &k.credential {
                Credential::ApiKey(id) => format!("api_key:{id}"),
                Credential::Application(client_id) => format!("client:{client_id}"),
            },
        }
    }

    pub(crate) fn meta(&self) -> RequestMeta {
        match self {
            Actor::Cli => RequestMeta::default(),
            Actor::Member(m) => m.meta.clone(),
            Actor::Key(k) => k.meta.clone(),
        }
    }
}

async fn audit(state: &AppState, actor: &Actor, tenant: TenantId, action: &str, target: String) {
    let event =
        AuditEvent::new(tenant, action, Outcome::Success, actor.audit_name()).target(target);
    state.audit(event, &actor.meta()).await;
}

/// Like [`audit`], with a detail (never a secret) such as the reason given.
async fn audit_with(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    action: &str,
    target: String,
    detail: String,
) {
    let event = AuditEvent::new(tenant, action, Outcome::Success, actor.audit_name())
        .target(target)
        .reason(detail);
    state.audit(event, &actor.meta()).await;
}
