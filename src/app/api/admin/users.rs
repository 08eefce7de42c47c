//! The console's people: the user list with its filters, a user's page, and what an admin does to
//! a user (create or invite, edit, block, sign out, reset factors, delete, give roles).

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

use super::audit::EventLine;
#[cfg(feature = "ssr")]
use super::{audit::event_line, console};
use super::{Choice, Console};
#[cfg(feature = "ssr")]
use crate::{
    admin::Actor,
    app::api::server::{self, Ctx},
    domain::{Invalid, User, UserId},
    error::{AppError, AppResult},
    store::UserQuery,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserLine {
    pub id: String,
    pub email: String,
    pub name: String,
    pub status: String,
    pub email_verified: bool,
    pub created: String,
    pub last_login: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub users: Vec<UserLine>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    pub roles: Vec<Choice>,
    pub teams: Vec<Choice>,
    pub can_write: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserPage {
    pub user: UserLine,
    /// Roles held directly, with whether this person may take them away.
    pub roles: Vec<Choice>,
    /// Roles that may still be given.
    pub assignable: Vec<Choice>,
    pub teams: Vec<Choice>,
    pub via_teams: Vec<String>,
    pub factors: Vec<String>,
    pub sessions: Vec<String>,
    /// Applications the user consented to: client id, and what they may do.
    pub consents: Vec<Choice>,
    pub events: Vec<EventLine>,
    pub blocked: bool,
    pub deleted: bool,
    pub can_write: bool,
    pub can_manage_roles: bool,
    pub is_self: bool,
}

/// Filters of the user list, as the page's query string carries them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserFilter {
    pub q: String,
    /// `active`, `blocked`, `deleted`, `mfa`, `no_mfa` or `unverified`.
    pub status: String,
    pub role: String,
    pub team: String,
    pub before: String,
}

#[server(prefix = "/api", endpoint = "admin_users")]
pub async fn load_admin_users(
    tenant: String,
    filter: UserFilter,
) -> Result<Console<UsersPage>, ServerFnError> {
    use crate::admin::{roles, users};
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("users:read"), |actor| {
        let ctx = &ctx;
        async move {
            let query = user_query(&filter)?;
            let before = cursor(&filter.before)?;
            let found = users::search(&ctx.state, &actor, &ctx.tenant, &query, before, 50).await?;
            let next = (found.len() == 50).then(|| found.last().map(|u| u.id.to_string()));
            Ok(UsersPage {
                users: found.iter().map(user_line).collect(),
                next: next.flatten(),
                roles: roles::list(&ctx.state, &actor, &ctx.tenant)
                    .await?
                    .iter()
                    .map(console::role_choice)
                    .collect(),
                teams: roles::teams(&ctx.state, &actor, &ctx.tenant)
                    .await?
                    .iter()
                    .map(|t| Choice {
                        value: t.id.to_string(),
                        label: t.name.clone(),
                    })
                    .collect(),
                can_write: actor.require(&ctx.tenant, "users:write").is_ok(),
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_user")]
pub async fn load_admin_user(
    tenant: String,
    id: String,
) -> Result<Console<UserPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("users:read"), |actor| {
        let ctx = &ctx;
        async move { user_page(ctx, &actor, &id).await }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_user_create")]
pub async fn create_user(
    tenant: String,
    csrf: String,
    email: String,
    name: String,
    password: String,
) -> Result<(), ServerFnError> {
    use crate::admin::users;
    let ctx = server::context(&tenant).await?;
    let list = format!("/t/{}/admin/users", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &list).await? else {
        return Ok(());
    };
    let invite = password.is_empty();
    let new = users::NewUser {
        email: &email,
        name: Some(&name),
        password: (!invite).then_some(password),
        admin: false,
    };
    let outcome = users::create(&ctx.state, &actor, &ctx.tenant, new).await;
    match outcome {
        Ok(user) => {
            let text = if invite {
                format!(
                    "{} was invited: they got an email to choose a password.",
                    user.email
                )
            } else {
                format!("{} was created.", user.email)
            };
            let page = format!("{list}/{}", user.id);
            console::done(&ctx, &page, Ok(text)).await
        }
        Err(e) => console::done(&ctx, &list, Err(e)).await,
    }
}

#[server(prefix = "/api", endpoint = "admin_user_update")]
pub async fn update_user(
    tenant: String,
    csrf: String,
    user: String,
    email: String,
    name: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = user_url(&ctx, &user);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = match console::user_id(&user) {
        Ok(id) => {
            crate::admin::users::update_profile(&ctx.state, &actor, &ctx.tenant, id, &email, &name)
                .await
                .map(|_| "The profile was saved.".to_string())
        }
        Err(e) => Err(e),
    };
    console::done(&ctx, &page, outcome).await
}

/// One of the user page's buttons: `block`, `unblock`, `sign_out`, `force_reset`, `restore`,
/// `delete` (soft), `purge` (for good, with `confirm` repeating the email address) or
/// `revoke_consent` (of the application `client`).
#[server(prefix = "/api", endpoint = "admin_user_action")]
pub async fn user_action(
    tenant: String,
    csrf: String,
    user: String,
    action: String,
    #[server(default)] confirm: String,
    #[server(default)] client: String,
) -> Result<(), ServerFnError> {
    use crate::admin::users;
    let ctx = server::context(&tenant).await?;
    let page = user_url(&ctx, &user);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let outcome = async {
        let id = console::user_id(&user)?;
        Ok(Some(match action.as_str() {
            "block" => {
                users::set_blocked(state, &actor, t, id, true).await?;
                "The user is blocked and was signed out everywhere.".to_string()
            }
            "unblock" => {
                users::set_blocked(state, &actor, t, id, false).await?;
                "The user can sign in again.".to_string()
            }
            "sign_out" => {
                let n = users::sign_out_everywhere(state, &actor, t, id).await?;
                format!("Ended {n} sign-in(s).")
            }
            "force_reset" => {
                users::force_password_reset(state, &actor, t, id).await?;
                "The password was removed; the user got an email to choose a new one.".to_string()
            }
            "restore" => {
                users::restore(state, &actor, t, id).await?;
                "The user was restored.".to_string()
            }
            "revoke_consent" => {
                let tokens = users::revoke_consent(state, &actor, t, id, &client).await?;
                format!("The consent was withdrawn and {tokens} token(s) the application held were revoked: it asks again next time.")
            }
            "delete" => {
                users::soft_delete(state, &actor, t, id).await?;
                "The user was deleted. You can restore them from this page.".to_string()
            }
            "purge" => {
                let user = users::get(state, &actor, t, id).await?;
                if !confirm.trim().eq_ignore_ascii_case(user.email.as_str()) {
                    let refused = Invalid::new(
                        "Type the user's email address to confirm deleting them for good.",
                    );
                    return Err(refused.on("confirm").into());
                }
                users::hard_delete(state, &actor, t, id).await?;
                return Ok(None);
            }
            _ => return Err(AppError::invalid("Unknown action.")),
        }))
    }
    .await;
    match outcome {
        Ok(None) => {
            let list = format!("/t/{}/admin/users", t.slug);
            console::done(&ctx, &list, Ok("The user was deleted for good.".into())).await
        }
        Ok(Some(text)) => console::done(&ctx, &page, Ok(text)).await,
        Err(e) => console::done(&ctx, &page, Err(e)).await,
    }
}

#[server(prefix = "/api", endpoint = "admin_user_reset_mfa")]
pub async fn reset_user_mfa(
    tenant: String,
    csrf: String,
    user: String,
    reason: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = user_url(&ctx, &user);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = match console::user_id(&user) {
        Ok(id) => crate::admin::users::reset_factors(&ctx.state, &actor, &ctx.tenant, id, &reason)
            .await
            .map(|n| format!("Removed {n} factor(s). The user was told by email.")),
        Err(e) => Err(e),
    };
    console::done(&ctx, &page, outcome).await
}

/// Gives (`grant = "1"`) or takes away a role from a user, back to `page`.
#[server(prefix = "/api", endpoint = "admin_user_role")]
pub async fn set_user_role(
    tenant: String,
    csrf: String,
    user: String,
    role: String,
    grant: String,
) -> Result<(), ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    let page = user_url(&ctx, &user);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = match console::user_id(&user) {
        Ok(id) if grant == "1" => roles::assign(&ctx.state, &actor, &ctx.tenant, id, &role)
            .await
            .map(|_| "The role was given.".to_string()),
        Ok(id) => roles::unassign(&ctx.state, &actor, &ctx.tenant, id, &role)
            .await
            .map(|_| "The role was taken away.".to_string()),
        Err(e) => Err(e),
    };
    console::done(&ctx, &page, outcome).await
}

#[cfg(feature = "ssr")]
fn cursor(raw: &str) -> AppResult<Option<UserId>> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::invalid("That page link is not valid."))
}

#[cfg(feature = "ssr")]
fn user_url(ctx: &Ctx, user: &str) -> String {
    match user.parse::<UserId>() {
        Ok(id) => format!("/t/{}/admin/users/{id}", ctx.tenant.slug),
        Err(_) => format!("/t/{}/admin/users", ctx.tenant.slug),
    }
}

#[cfg(feature = "ssr")]
fn user_query(filter: &UserFilter) -> AppResult<UserQuery> {
    let mut query = UserQuery {
        text: Some(filter.q.trim().to_owned()).filter(|t| !t.is_empty()),
        deleted: Some(false),
        role: Some(filter.role.clone()).filter(|r| !r.is_empty()),
        team: match filter.team.as_str() {
            "" => None,
            raw => Some(
                console::team_id(raw)
                    .map_err(|_| AppError::invalid("That team does not exist."))?,
            ),
        },
        ..UserQuery::default()
    };
    match filter.status.as_str() {
        "" => {}
        "active" => query.blocked = Some(false),
        "blocked" => query.blocked = Some(true),
        "deleted" => query.deleted = Some(true),
        "mfa" => query.mfa = Some(true),
        "no_mfa" => query.mfa = Some(false),
        "unverified" => query.email_verified = Some(false),
        _ => return Err(AppError::invalid("Unknown status filter.")),
    }
    Ok(query)
}

#[cfg(feature = "ssr")]
fn user_line(user: &User) -> UserLine {
    let status = if user.deleted_at.is_some() {
        "Deleted"
    } else if user.blocked {
        "Blocked"
    } else if user.password_hash.is_none() && user.last_login_at.is_none() {
        "Invited"
    } else {
        "Active"
    };
    UserLine {
        id: user.id.to_string(),
        email: user.email.to_string(),
        name: user.name.clone().unwrap_or_default(),
        status: status.into(),
        email_verified: user.email_verified,
        created: server::when(user.created_at),
        last_login: user
            .last_login_at
            .map(server::when)
            .unwrap_or_else(|| "never".into()),
    }
}

#[cfg(feature = "ssr")]
async fn user_page(ctx: &Ctx, actor: &Actor, id: &str) -> AppResult<UserPage> {
    use crate::admin::{access, roles, users};
    let (state, t) = (&ctx.state, &ctx.tenant);
    let user = users::get(state, actor, t, console::user_id(id)?).await?;
    let all = roles::list(state, actor, t).await?;
    let direct = state.store.users.roles(t.id, user.id).await?;
    let effective = access::effective_roles(state, t, user.id).await?;
    let team_ids = state.store.access.teams_of(t.id, user.id).await?;
    let teams: Vec<Choice> = state
        .store
        .access
        .teams(t.id)
        .await?
        .into_iter()
        .filter(|team| team_ids.contains(&team.id))
        .map(|team| Choice {
            value: team.id.to_string(),
            label: team.name,
        })
        .collect();
    let factors = state
        .store
        .factors
        .of_user(t.id, user.id)
        .await?
        .iter()
        .map(|f| format!("{} ({})", f.name, f.kind.as_str()))
        .collect();
    let now = crate::domain::Timestamp::now();
    let sessions = state
        .store
        .sessions
        .of_user(t.id, user.id, now)
        .await?
        .iter()
        .map(|s| {
            format!(
                "Since {} from {} ({})",
                server::when(s.created_at),
                s.ip.as_deref().unwrap_or("unknown"),
                s.amr.join(", ")
            )
        })
        .collect();
    let consents = crate::auth::account::allowed_apps(state, t, user.id)
        .await?
        .into_iter()
        .map(|(consent, name)| Choice {
            label: format!("{name}: {}", consent.scopes.join(" ")),
            value: consent.client_id,
        })
        .collect();
    let query = crate::store::AuditQuery {
        target: Some(format!("user:{}", user.id)),
        ..Default::default()
    };
    let events = if actor.require(t, "audit:read").is_ok() {
        state.store.audit.search(t.id, &query, None, 20).await?
    } else {
        Vec::new()
    };
    Ok(UserPage {
        user: user_line(&user),
        roles: all
            .iter()
            .filter(|r| direct.contains(&r.id))
            .map(console::role_choice)
            .collect(),
        assignable: all
            .iter()
            .filter(|r| !direct.contains(&r.id) && actor.outranks(std::slice::from_ref(*r)).is_ok())
            .map(console::role_choice)
            .collect(),
        via_teams: effective
            .iter()
            .filter(|r| !direct.contains(&r.id))
            .map(|r| r.name.clone())
            .collect(),
        teams,
        factors,
        sessions,
        consents,
        events: events.iter().map(event_line).collect(),
        blocked: user.blocked,
        deleted: user.deleted_at.is_some(),
        can_write: actor.require(t, "users:write").is_ok(),
        can_manage_roles: actor.require(t, "roles:manage").is_ok(),
        is_self: actor.user_id() == Some(user.id),
    })
}
