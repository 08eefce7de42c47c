//! Linking an upstream identity (`upstream`) to an account: at the first sign-in that creates
//! the account, or at the end of a sign-in that proved the account an unlinked identity
//! carried (`login::complete`).

use super::own_event;
use crate::domain::{LinkedIdentity, LoginFlow, Outcome, RequestMeta, Tenant, Timestamp, User};
use crate::state::AppState;
use crate::store::{StoreError, StoreResult};
use uuid::Uuid;

pub(super) fn new_link(
    tenant: &Tenant,
    user: &User,
    connection_id: Uuid,
    subject: &str,
    email: Option<String>,
) -> LinkedIdentity {
    let now = Timestamp::now();
    LinkedIdentity {
        tenant_id: tenant.id,
        connection_id,
        subject: subject.to_owned(),
        user_id: user.id,
        email,
        created_at: now,
        last_used_at: Some(now),
    }
}

pub(super) async fn link(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    link: LinkedIdentity,
    connection_slug: &str,
) -> StoreResult<()> {
    let event = own_event(
        tenant,
        user,
        "identity.linked",
        Outcome::Success,
        format!("connection {connection_slug}"),
    );
    let change = state.store.connections.link(tenant.id, &link);
    state.audited(event, meta, change).await
}

/// At the end of a sign-in: links the identity the flow carries to `user`, who has just proven
/// their account; true when it did. `NotFound` when its connection went meanwhile, `Conflict`
/// when the identity was linked meanwhile.
pub async fn link_pending(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    flow: &mut LoginFlow,
    user: &User,
) -> StoreResult<bool> {
    let Some(upstream) = flow.upstream.as_mut().filter(|u| u.link) else {
        return Ok(false);
    };
    let slug = connection_slug(state, tenant, upstream.connection_id).await?;
    let slug = slug.ok_or(StoreError::NotFound)?;
    let linked = new_link(
        tenant,
        user,
        upstream.connection_id,
        &upstream.subject,
        upstream.email.clone(),
    );
    link(state, meta, tenant, user, linked, &slug).await?;
    upstream.link = false;
    Ok(true)
}

async fn connection_slug(
    state: &AppState,
    tenant: &Tenant,
    id: Uuid,
) -> StoreResult<Option<String>> {
    let all = state.store.connections.list(tenant.id).await?;
    Ok(all.into_iter().find(|c| c.id == id).map(|c| c.slug))
}
