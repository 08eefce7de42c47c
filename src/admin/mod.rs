//! Use cases of the consoles and the command line. Each takes the acting party and checks its
//! permissions (see [`access`]) before anything touches storage.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod clients;
pub mod connections;
pub mod dynamic_registration;
pub mod initial_tokens;
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
use crate::store::{audited::Effect, StoreResult};
pub use access::{Credential, KeyHolder, Member};
use std::future::Future;

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
                Credential::Registration(None) => "registration".into(),
                Credential::Registration(Some(id)) => format!("initial_access_token:{id}"),
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

/// The event of `actor`'s successful `action` on `target` in `tenant`.
fn event_of(actor: &Actor, tenant: TenantId, action: &str, target: String) -> AuditEvent {
    AuditEvent::new(tenant, action, Outcome::Success, actor.audit_name()).target(target)
}

/// Makes `change` and audits it with `event`, in the change's own transaction where the store
/// has one (see [`AppState::audited`]).
async fn audited<T: Effect>(
    state: &AppState,
    actor: &Actor,
    event: AuditEvent,
    change: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    state.audited(event, &actor.meta(), change).await
}

async fn audit(state: &AppState, actor: &Actor, tenant: TenantId, action: &str, target: String) {
    state
        .audit(event_of(actor, tenant, action, target), &actor.meta())
        .await;
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
    let event = event_of(actor, tenant, action, target).reason(detail);
    state.audit(event, &actor.meta()).await;
}
