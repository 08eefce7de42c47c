//! What an identity vouched for by a provider means here. A linked identity signs its account
//! in. An unlinked one whose email an account has is linked only once the person proves that
//! account (its password or passkey, and its second factor): an email, even verified by the
//! provider, never takes an account over. Otherwise the connection may create an account
//! (just-in-time provisioning). A person sees their links and removes one while another way
//! to sign in remains.

use super::provider::Identity;
use super::UpstreamError;
use crate::auth::login::{self, LoginError};
use crate::auth::{links, own_event};
use crate::domain::{
    AuditEvent, Connection, Email, FactorKind, FlowStep, LoginFlow, Outcome, RequestMeta, Tenant,
    Timestamp, UpstreamSignIn, User,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoreError;
use tower_sessions::Session;

/// Goes on with `flow` for the person the provider vouched for.
pub(super) async fn sign_in(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    tenant: &Tenant,
    mut flow: LoginFlow,
    connection: &Connection,
    identity: Identity,
) -> Result<LoginFlow, UpstreamError> {
    let email = identity.email.as_deref().and_then(|e| Email::parse(e).ok());
    let mut upstream = UpstreamSignIn {
        connection_id: connection.id,
        connection_name: connection.name.clone(),
        subject: identity.subject.clone(),
        email: email.as_ref().map(ToString::to_string),
        link: false,
    };
    let links = &state.store.connections;
    if let Some(link) = links
        .linked(tenant.id, connection.id, &identity.subject)
        .await?
    {
        let user = match state.store.users.by_id(tenant.id, link.user_id).await? {
            Some(user) if user.can_sign_in() => user,
            _ => return Err(UpstreamError::Blocked),
        };
        let now = Timestamp::now();
        (links.record_link_use(tenant.id, connection.id, &identity.subject, now)).await?;
        audit_success(state, meta, tenant, &user, connection, "linked identity").await;
        flow.upstream = Some(upstream);
        return Ok(login::after_first_step(state, session, meta, tenant, flow, &user).await?);
    }
    let Some(email) = email else {
        return Err(UpstreamError::NoEmail);
    };
    if let Some(existing) = state
        .store
        .users
        .by_email(tenant.id, email.as_str())
        .await?
    {
        // The account's owner proves it before the identity joins it.
        upstream.link = true;
        flow.upstream = Some(upstream);
        flow.step = FlowStep::Password {
            email: existing.email.to_string(),
        };
        state.store.artifacts.put_flow(tenant.id, &flow).await?;
        let event = AuditEvent::new(tenant.id, "login.upstream", Outcome::Success, "anonymous")
            .target(format!("connection:{}", connection.slug))
            .reason("not linked yet: the account with its email must be proven first");
        state.audit(event, meta).await;
        return Ok(flow);
    }
    if !connection.provisioning {
        return Err(UpstreamError::NoAccount);
    }
    let user = provision(state, meta, tenant, connection, &identity, email).await?;
    flow.upstream = Some(upstream);
    Ok(login::after_first_step(state, session, meta, tenant, flow, &user).await?)
}

/// Creates the account of a first sign-in, linked to the identity.
async fn provision(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    connection: &Connection,
    identity: &Identity,
    email: Email,
) -> Result<User, UpstreamError> {
    let name = identity
        .name
        .as_deref()
        .filter(|n| User::check_name(n).is_ok());
    let mut user = User::new(tenant.id, email, name).map_err(|e| LoginError::Internal(e.into()))?;
    user.email_verified = identity.email_verified;
    let event = own_event(
        tenant,
        &user,
        "user.provisioned",
        Outcome::Success,
        format!("first sign-in through {}", connection.slug),
    );
    let create = state.store.users.create(tenant.id, &user, &[]);
    match state.audited(event, meta, create).await {
        Ok(()) => {}
        // Someone took the address meanwhile: their account must be proven, as above.
        Err(StoreError::Conflict(_)) => return Err(UpstreamError::Expired),
        Err(e) => return Err(e.into()),
    }
    let linked = links::new_link(
        tenant,
        &user,
        connection.id,
        &identity.subject,
        identity.email.clone(),
    );
    match links::link(state, meta, tenant, &user, linked, &connection.slug).await {
        Ok(()) => {}
        // Linked to someone meanwhile: this sign-in starts again and follows the link.
        Err(StoreError::Conflict(_)) => return Err(UpstreamError::Expired),
        Err(e) => return Err(e.into()),
    }
    audit_success(state, meta, tenant, &user, connection, "new account").await;
    Ok(user)
}

async fn audit_success(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    connection: &Connection,
    how: &str,
) {
    let event = own_event(
        tenant,
        user,
        "login.upstream",
        Outcome::Success,
        format!("{how} through {}", connection.slug),
    )
    .target(format!("connection:{}", connection.slug));
    state.audit(event, meta).await;
}

/// A linked identity as the account page shows it.
#[derive(Clone, Debug)]
pub struct LinkView {
    pub connection: String,
    pub connection_slug: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// The person's linked identities, with the names of their connections.
pub async fn links_of(state: &AppState, tenant: &Tenant, user: &User) -> AppResult<Vec<LinkView>> {
    let links = state.store.connections.links_of(tenant.id, user.id).await?;
    let connections = state.store.connections.list(tenant.id).await?;
    Ok(links
        .into_iter()
        .filter_map(|link| {
            let connection = connections.iter().find(|c| c.id == link.connection_id)?;
            Some(LinkView {
                connection: connection.name.clone(),
                connection_slug: connection.slug.clone(),
                subject: link.subject,
                email: link.email,
                created_at: link.created_at,
                last_used_at: link.last_used_at,
            })
        })
        .collect())
}

/// Removes one of the person's links, refused when it is their last way to sign in (no
/// password, no passkey, no other link to an enabled connection).
pub async fn unlink(
    state: &AppState,
    meta: &RequestMeta,
    tenant: &Tenant,
    user: &User,
    connection_slug: &str,
    subject: &str,
) -> AppResult<()> {
    let links = links_of(state, tenant, user).await?;
    let Some(target) = links
        .iter()
        .find(|l| l.connection_slug == connection_slug && l.subject == subject)
    else {
        return Err(AppError::NotFound);
    };
    let connections = state.store.connections.list(tenant.id).await?;
    let other_link = links.iter().any(|l| {
        !(l.connection_slug == connection_slug && l.subject == subject)
            && connections
                .iter()
                .any(|c| c.slug == l.connection_slug && c.enabled)
    });
    let factors = state.store.factors.of_user(tenant.id, user.id).await?;
    let passkey = factors.iter().any(|f| f.kind == FactorKind::Passkey);
    if !(user.password_hash.is_some() || passkey || other_link) {
        return Err(crate::domain::Invalid::new(
            "This is your only way to sign in. Set a password or add a passkey first.",
        )
        .into());
    }
    let id = connections
        .iter()
        .find(|c| c.slug == target.connection_slug)
        .map(|c| c.id)
        .ok_or(AppError::NotFound)?;
    let event = own_event(
        tenant,
        user,
        "identity.unlinked",
        Outcome::Success,
        format!("connection {connection_slug}"),
    );
    let change = state
        .store
        .connections
        .unlink(tenant.id, user.id, id, subject);
    if !state.audited(event, meta, change).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}
