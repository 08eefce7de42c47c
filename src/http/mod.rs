//! The axum router: the Leptos app, the OIDC routes, static files and the middleware around them.

mod api;
mod audit_export;
mod branding;
mod data_export;
mod documents;
mod headers;
mod meta;
mod metrics;
mod pages;
mod passkeys;
mod request_id;
mod router;
mod scim;
mod server_fns;
mod session_store;
mod upstream;

pub use router::{router, serve};
pub use session_store::BrowserSessionStore;

/// The person signed in to `tenant` in this browser, as a console actor; `None` when nobody
/// (able to sign in) is.
async fn console_actor(
    state: &crate::state::AppState,
    session: &tower_sessions::Session,
    meta: &crate::domain::RequestMeta,
    tenant: &crate::domain::Tenant,
) -> crate::error::AppResult<Option<crate::admin::Actor>> {
    let Some(current) = crate::auth::browser::current_sign_in(state, session, tenant).await? else {
        return Ok(None);
    };
    let Some(user) = state
        .store
        .users
        .by_id(tenant.id, current.user_id)
        .await?
        .filter(|u| u.can_sign_in())
    else {
        return Ok(None);
    };
    let member = crate::admin::access::member(state, tenant, &user, &current, meta.clone()).await?;
    Ok(Some(crate::admin::Actor::Member(member)))
}
