//! Server functions of the organisation console (`/t/{slug}/admin`). Each one resolves the
//! signed-in person as an [`crate::admin::Actor`] and calls an `admin/` use case, which checks
//! the permission: what a page hides is never the protection. Outcomes travel as a one-time
//! message kept in the browser session and shown by the next page, so no URL can put text on
//! a console page.

// A server function takes one argument per form field.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use super::server;
#[cfg(feature = "ssr")]
use crate::domain::{uri_lines, whole_number, Invalid};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A result to show once on the next console page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
    /// The form field a refusal is about (a domain rule names it), shown next to that field.
    pub field: Option<String>,
}

impl Flash {
    pub fn done(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
            field: None,
        }
    }

    pub fn refused(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
            field: None,
        }
    }

    /// The refusal for `field`, if it is about that field.
    pub fn about(&self, field: &str) -> Option<String> {
        (!self.ok && self.field.as_deref() == Some(field)).then(|| self.text.clone())
    }
}

impl From<crate::domain::Invalid> for Flash {
    fn from(invalid: crate::domain::Invalid) -> Self {
        Self {
            field: invalid.field().map(str::to_owned),
            ..Self::refused(invalid.message())
        }
    }
}

/// What the policy form's numbers are called in messages, alike in the page and on the server.
pub mod policy_numbers {
    pub const SESSION: &str = "The sign-in lifetime";
    pub const IDLE: &str = "The idle timeout";
    pub const PASSWORD_LENGTH: &str = "The minimum password length";
    pub const ACCESS: &str = "The access token lifetime";
    pub const REFRESH_IDLE: &str = "The refresh token idle lifetime";
    pub const REFRESH_ABSOLUTE: &str = "The refresh token absolute lifetime";
}

/// Where the browser session keeps the [`Flash`] until a console page shows it.
#[cfg(feature = "ssr")]
pub const FLASH_KEY: &str = "console.flash";

/// What every console page shows around its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleNav {
    pub tenant: String,
    pub tenant_name: String,
    pub email: String,
    pub csrf: String,
    /// Areas the person may open: `users`, `clients`, `roles`, `teams`, `settings`, `audit`.
    pub areas: Vec<String>,
    pub flash: Option<Flash>,
}

/// A console page's data, or why it cannot be shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Console<T> {
    /// Not signed in to the tenant: the page offers to sign in.
    SignedOut {
        tenant_name: String,
        csrf: String,
    },
    /// Signed in without the permission this page needs.
    NotAllowed(ConsoleNav),
    Ready(ConsoleNav, T),
}

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
pub struct Choice {
    pub value: String,
    pub label: String,
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
pub struct EventLine {
    pub id: String,
    pub at: String,
    pub action: String,
    pub ok: bool,
    pub actor: String,
    pub target: String,
    /// The actor and target as people read them (an email for `user:<id>`).
    pub actor_label: String,
    pub target_label: String,
    pub ip: String,
    pub user_agent: String,
    pub reason: String,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleLine {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub built_in: bool,
    pub holders: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolesPage {
    pub roles: Vec<RoleLine>,
    /// Every permission with what it allows, for the picker.
    pub catalogue: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamLine {
    pub id: String,
    pub name: String,
    pub description: String,
    pub roles: Vec<String>,
    pub members: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamsPage {
    pub teams: Vec<TeamLine>,
    pub roles: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<EventLine>,
    pub next: Option<String>,
    /// The filters as a query string, for the export links.
    pub query: String,
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

/// Filters of the audit log, as the page's query string carries them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: String,
    pub target: String,
    pub action: String,
    /// `success` or `failure`.
    pub result: String,
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub until: String,
    pub before: String,
}

#[server(prefix = "/api", endpoint = "admin_home")]
pub async fn load_admin_home(tenant: String) -> Result<Console<()>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, None, |_| async { Ok(()) }).await
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
            let query = console::user_query(&filter)?;
            let before = console::cursor(&filter.before)?;
            let found = users::search(&ctx.state, &actor, &ctx.tenant, &query, before, 50).await?;
            let next = (found.len() == 50).then(|| found.last().map(|u| u.id.to_string()));
            Ok(UsersPage {
                users: found.iter().map(console::user_line).collect(),
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
        async move { console::user_page(ctx, &actor, &id).await }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_roles")]
pub async fn load_admin_roles(tenant: String) -> Result<Console<RolesPage>, ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("roles:manage"), |actor| {
        let ctx = &ctx;
        async move {
            let mut lines = Vec::new();
            for role in roles::list(&ctx.state, &actor, &ctx.tenant).await? {
                let holders = ctx
                    .state
                    .store
                    .access
                    .role_holders(ctx.tenant.id, &role.id)
                    .await?
                    .len();
                lines.push(RoleLine {
                    id: role.id.clone(),
                    name: role.name.clone(),
                    description: role.description.clone(),
                    permissions: role
                        .permissions
                        .iter()
                        .map(|p| p.as_str().to_owned())
                        .collect(),
                    built_in: role.built_in,
                    holders,
                });
            }
            Ok(RolesPage {
                roles: lines,
                catalogue: crate::domain::access::CATALOGUE
                    .iter()
                    .map(|(p, what)| Choice {
                        value: (*p).into(),
                        label: (*what).into(),
                    })
                    .collect(),
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_teams")]
pub async fn load_admin_teams(tenant: String) -> Result<Console<TeamsPage>, ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("teams:manage"), |actor| {
        let ctx = &ctx;
        async move {
            let mut teams = Vec::new();
            for team in roles::teams(&ctx.state, &actor, &ctx.tenant).await? {
                let mut members = Vec::new();
                for id in roles::members(&ctx.state, &actor, &ctx.tenant, team.id).await? {
                    if let Some(user) = ctx.state.store.users.by_id(ctx.tenant.id, id).await? {
                        members.push(Choice {
                            value: id.to_string(),
                            label: user.email.to_string(),
                        });
                    }
                }
                teams.push(TeamLine {
                    id: team.id.to_string(),
                    name: team.name,
                    description: team.description,
                    roles: team.roles,
                    members,
                });
            }
            Ok(TeamsPage {
                teams,
                roles: roles::list(&ctx.state, &actor, &ctx.tenant)
                    .await?
                    .iter()
                    .map(console::role_choice)
                    .collect(),
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_audit")]
pub async fn load_admin_audit(
    tenant: String,
    filter: AuditFilter,
) -> Result<Console<AuditPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("audit:read"), |actor| {
        let ctx = &ctx;
        async move {
            let query = crate::admin::audit::query(
                &filter.actor,
                &filter.target,
                &filter.action,
                &filter.result,
                &filter.from,
                &filter.until,
            )?;
            let before =
                if filter.before.is_empty() {
                    None
                } else {
                    Some(filter.before.parse().map_err(|_| {
                        crate::error::AppError::invalid("That page link is not valid.")
                    })?)
                };
            let events =
                crate::admin::audit::search(&ctx.state, &actor, &ctx.tenant, &query, before, 50)
                    .await?;
            let next = (events.len() == 50)
                .then(|| events.last().map(|e| e.id.to_string()))
                .flatten();
            let mut export = filter.clone();
            export.before.clear();
            Ok(AuditPage {
                events: console::with_people(ctx, events.iter().map(console::event_line).collect())
                    .await?,
                next,
                query: serde_urlencoded::to_string(&export).unwrap_or_default(),
            })
        }
    })
    .await
}

/// "Confirm it is you": a fresh sign-in (with the second factor) that comes back to `page`.
#[server(prefix = "/api", endpoint = "admin_reauth")]
pub async fn admin_sign_in(
    tenant: String,
    csrf: String,
    page: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let back = server::local_page(&ctx, &page);
    if !server::csrf_ok(&ctx, &csrf).await {
        return console::done(&ctx, &back, Err(console::csrf_error())).await;
    }
    let flow =
        crate::auth::login::start_flow(&ctx.state, &ctx.session, &ctx.tenant, None, Some(back))
            .await
            .map_err(server::internal(&ctx))?;
    server::go(&server::login_url(&ctx.tenant, &flow.id, None))
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
    let page = console::user_url(&ctx, &user);
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
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = console::user_url(&ctx, &user);
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
    let page = console::user_url(&ctx, &user);
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
    let page = console::user_url(&ctx, &user);
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

/// Creates a custom role (empty `role`) or saves one.
#[server(prefix = "/api", endpoint = "admin_role_save")]
pub async fn save_role(
    tenant: String,
    csrf: String,
    #[server(default)] role: String,
    name: String,
    #[server(default)] description: String,
    #[server(default)] permissions: Vec<String>,
) -> Result<(), ServerFnError> {
    use crate::admin::roles;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/roles", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let outcome = if role.is_empty() {
        roles::create(state, &actor, t, &name, &description, &permissions)
            .await
            .map(|r| format!("The role {} was created.", r.name))
    } else {
        roles::update(state, &actor, t, &role, &name, &description, &permissions)
            .await
            .map(|r| format!("The role {} was saved.", r.name))
    };
    console::done(&ctx, &page, outcome).await
}

#[server(prefix = "/api", endpoint = "admin_role_delete")]
pub async fn delete_role(
    tenant: String,
    csrf: String,
    role: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/roles", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        console::confirmed(&confirm, "the role")?;
        crate::admin::roles::delete(&ctx.state, &actor, &ctx.tenant, &role).await?;
        Ok("The role was deleted.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// Creates a team (empty `team`) or saves its name, description and roles.
#[server(prefix = "/api", endpoint = "admin_team_save")]
pub async fn save_team(
    tenant: String,
    csrf: String,
    #[server(default)] team: String,
    name: String,
    #[server(default)] description: String,
    #[server(default)] roles: Vec<String>,
) -> Result<(), ServerFnError> {
    use crate::admin::roles as admin_roles;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/teams", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let outcome = if team.is_empty() {
        admin_roles::create_team(state, &actor, t, &name, &description)
            .await
            .map(|team| format!("The team {} was created.", team.name))
    } else {
        match console::team_id(&team) {
            Ok(id) => admin_roles::update_team(state, &actor, t, id, &name, &description, &roles)
                .await
                .map(|team| format!("The team {} was saved.", team.name)),
            Err(e) => Err(e),
        }
    };
    console::done(&ctx, &page, outcome).await
}

/// `action`: `delete` the team, `add` the member with `email`, or `remove` the member `user`.
#[server(prefix = "/api", endpoint = "admin_team_change")]
pub async fn change_team(
    tenant: String,
    csrf: String,
    team: String,
    action: String,
    #[server(default)] email: String,
    #[server(default)] user: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    use crate::admin::roles;
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/teams", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    let outcome = async {
        let id = console::team_id(&team)?;
        match action.as_str() {
            "delete" => {
                console::confirmed(&confirm, "the team")?;
                roles::delete_team(state, &actor, t, id).await?;
                Ok("The team was deleted.".to_string())
            }
            "add" => {
                let email = crate::domain::Email::parse(&email)?;
                let member = state
                    .store
                    .users
                    .by_email(t.id, email.as_str())
                    .await?
                    .ok_or_else(|| AppError::invalid(format!("There is no user {email}.")))?;
                roles::add_member(state, &actor, t, id, member.id).await?;
                Ok(format!("{email} joined the team."))
            }
            "remove" => {
                roles::remove_member(state, &actor, t, id, console::user_id(&user)?).await?;
                Ok("The member left the team.".to_string())
            }
            _ => Err(AppError::invalid("Unknown action.")),
        }
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

#[cfg(feature = "ssr")]
mod console {
    use super::server::{self, Ctx};
    use super::{Console, ConsoleNav, EventLine, Flash, UserFilter, UserLine, UserPage, FLASH_KEY};
    use crate::admin::{self, Actor};
    use crate::domain::{AuditEvent, Invalid, Role, User, UserId};
    use crate::error::{AppError, AppResult};
    use crate::store::UserQuery;
    use leptos::prelude::ServerFnError;
    use std::future::Future;

    /// The signed-in person of the tenant as a console actor, if any.
    async fn actor(ctx: &Ctx) -> Result<Option<(Actor, User)>, ServerFnError> {
        let Some((session, user)) = server::signed_in(ctx).await? else {
            return Ok(None);
        };
        let member =
            admin::access::member(&ctx.state, &ctx.tenant, &user, &session, ctx.meta.clone())
                .await
                .map_err(server::internal(ctx))?;
        Ok(Some((Actor::Member(member), user)))
    }

    /// Loads a console page: signed out and not-allowed answers are pages of their own; the
    /// use cases in `page` check permissions again for everything they touch.
    pub async fn load<T, F, Fut>(
        ctx: &Ctx,
        needs: Option<&str>,
        page: F,
    ) -> Result<Console<T>, ServerFnError>
    where
        F: FnOnce(Actor) -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let csrf = server::csrf(ctx).await?;
        let Some((actor, user)) = actor(ctx).await? else {
            return Ok(Console::SignedOut {
                tenant_name: ctx.tenant.name.clone(),
                csrf,
            });
        };
        let areas = [
            ("users", "users:read"),
            ("clients", "clients:manage_own"),
            ("roles", "roles:manage"),
            ("teams", "teams:manage"),
            ("branding", "branding:manage"),
            ("settings", "settings:manage"),
            ("audit", "audit:read"),
        ]
        .iter()
        .filter(|(_, p)| actor.require(&ctx.tenant, p).is_ok())
        .map(|(a, _)| (*a).to_owned())
        .collect();
        let nav = ConsoleNav {
            tenant: ctx.tenant.slug.to_string(),
            tenant_name: ctx.tenant.name.clone(),
            email: user.email.to_string(),
            csrf,
            areas,
            flash: take_flash(ctx).await,
        };
        if needs.is_some_and(|p| actor.require(&ctx.tenant, p).is_err()) {
            return Ok(Console::NotAllowed(nav));
        }
        match page(actor).await {
            Ok(data) => Ok(Console::Ready(nav, data)),
            Err(AppError::Forbidden) => Ok(Console::NotAllowed(nav)),
            Err(AppError::NotFound) => {
                if let Some(response) =
                    leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
                {
                    response.set_status(axum::http::StatusCode::NOT_FOUND);
                }
                Err(ServerFnError::new("not found"))
            }
            // Malformed filters or cursors: the page says what is wrong with them.
            Err(AppError::Invalid(text)) => Err(ServerFnError::new(text)),
            Err(e) => Err(server::internal(ctx)(e)),
        }
    }

    /// Checks the CSRF token and the sign-in of a form post; on failure, answers it (back to
    /// `page` with a message, or to the sign-in) and gives `None`.
    pub async fn act(ctx: &Ctx, csrf: &str, page: &str) -> Result<Option<Actor>, ServerFnError> {
        if !server::csrf_ok(ctx, csrf).await {
            done(ctx, page, Err(csrf_error())).await?;
            return Ok(None);
        }
        match actor(ctx).await? {
            Some((actor, _)) => Ok(Some(actor)),
            None => {
                server::go(page)?;
                Ok(None)
            }
        }
    }

    /// A deletion's "I mean it" box was ticked (a checkbox, so it works without JavaScript).
    pub fn confirmed(confirm: &str, what: &str) -> Result<(), Invalid> {
        if confirm == "yes" {
            return Ok(());
        }
        let unticked = Invalid::new(format!("Tick the box to confirm deleting {what}."));
        Err(unticked.on("confirm"))
    }

    pub fn csrf_error() -> AppError {
        AppError::invalid("This form expired. Please try again.")
    }

    /// Answers a form post: back to `page`, with the outcome shown once there. A refusal
    /// (no permission, or an id this tenant does not have) also answers 403 or 404, so a direct
    /// call sees it; internal errors are logged with the request id, never shown.
    pub async fn done(
        ctx: &Ctx,
        page: &str,
        outcome: AppResult<String>,
    ) -> Result<(), ServerFnError> {
        use axum::http::StatusCode;
        let (flash, status) = match outcome {
            Ok(text) => (Flash::done(text), None),
            Err(AppError::Invalid(invalid)) => (Flash::from(invalid), None),
            Err(AppError::Conflict(text)) => (Flash::refused(text), None),
            Err(AppError::Reauthenticate) => (
                Flash::refused("For your security, confirm it is you (sign in again) before making this change."),
                None,
            ),
            Err(AppError::Forbidden) => (
                Flash::refused("You do not have permission to do that."),
                Some(StatusCode::FORBIDDEN),
            ),
            Err(AppError::NotFound) => (
                Flash::refused("That item no longer exists."),
                Some(StatusCode::NOT_FOUND),
            ),
            Err(AppError::Internal(detail)) => return Err(server::internal(ctx)(detail)),
        };
        server::flash_and_go(ctx, FLASH_KEY, flash, page, status).await
    }

    async fn take_flash(ctx: &Ctx) -> Option<Flash> {
        ctx.session.remove::<Flash>(FLASH_KEY).await.ok().flatten()
    }

    pub fn user_id(raw: &str) -> AppResult<UserId> {
        raw.parse().map_err(|_| AppError::NotFound)
    }

    pub fn team_id(raw: &str) -> AppResult<uuid::Uuid> {
        raw.parse().map_err(|_| AppError::NotFound)
    }

    pub fn cursor(raw: &str) -> AppResult<Option<UserId>> {
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse()
            .map(Some)
            .map_err(|_| AppError::invalid("That page link is not valid."))
    }

    pub fn brand_view(tenant: &crate::domain::Tenant) -> super::BrandView {
        let b = &tenant.settings.branding;
        super::BrandView {
            name: tenant.name.clone(),
            logo: b
                .logo
                .as_ref()
                .map(|l| format!("/t/{}/branding/logo?v={}", tenant.slug, l.version)),
            support_url: b.support_url.clone(),
            support_email: b.support_email.clone(),
        }
    }

    /// The non-empty lines of a text area, trimmed.
    pub fn client_url(ctx: &Ctx, client: &str) -> String {
        if crate::domain::Client::validate_client_id(client).is_ok() {
            format!("/t/{}/admin/clients/{client}", ctx.tenant.slug)
        } else {
            format!("/t/{}/admin/clients", ctx.tenant.slug)
        }
    }

    pub async fn client_page(
        ctx: &Ctx,
        actor: &Actor,
        client_id: &str,
        show: bool,
    ) -> AppResult<super::ClientPage> {
        use crate::domain::AppType;
        let client = crate::admin::clients::get(&ctx.state, actor, &ctx.tenant, client_id).await?;
        let secret = if show {
            crate::auth::reveal::take(&ctx.state, &ctx.session, &ctx.tenant)
                .await?
                .and_then(|s| s.into_iter().next())
        } else {
            None
        };
        let issuer = ctx.state.config.issuer(ctx.tenant.slug.as_str());
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let kind = AppType::of(&client);
        let join = |uris: &[crate::domain::RedirectUri]| {
            uris.iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut snippet = format!(
            "OIDC_ISSUER={issuer}\nOIDC_DISCOVERY_URL={discovery}\nOIDC_CLIENT_ID={}\n",
            client.client_id
        );
        if client.secret_hash.is_some() {
            snippet.push_str("OIDC_CLIENT_SECRET=<the secret shown when it was made>\n");
        }
        if let Some(uri) = client.redirect_uris.first() {
            snippet.push_str(&format!("OIDC_REDIRECT_URI={}\n", uri.as_str()));
        }
        snippet.push_str(&format!("OIDC_SCOPES=\"{}\"\n", client.scopes.join(" ")));
        if kind.is_public() && kind.redirects() {
            snippet.push_str("# Public client: use PKCE (S256); there is no secret.\n");
        }
        Ok(super::ClientPage {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            kind: kind.describe().0.into(),
            app_type: kind.as_str().into(),
            public: kind.is_public(),
            has_secret: client.secret_hash.is_some(),
            secret,
            redirects: kind.redirects(),
            redirect_uris: join(&client.redirect_uris),
            post_logout_redirect_uris: join(&client.post_logout_redirect_uris),
            scopes: client.scopes.join(" "),
            require_consent: client.require_consent,
            access_token_ttl_secs: client.access_token_ttl_secs,
            refresh_token_ttl_secs: client.refresh_token_ttl_secs,
            logo_uri: client.logo_uri.clone().unwrap_or_default(),
            disabled: client.disabled,
            grants: client
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            auth_method: client.auth_method.as_str().into(),
            issuer,
            discovery,
            snippet,
        })
    }

    pub fn user_url(ctx: &Ctx, user: &str) -> String {
        match user.parse::<UserId>() {
            Ok(id) => format!("/t/{}/admin/users/{id}", ctx.tenant.slug),
            Err(_) => format!("/t/{}/admin/users", ctx.tenant.slug),
        }
    }

    pub fn user_query(filter: &UserFilter) -> AppResult<UserQuery> {
        let mut query = UserQuery {
            text: Some(filter.q.trim().to_owned()).filter(|t| !t.is_empty()),
            deleted: Some(false),
            role: Some(filter.role.clone()).filter(|r| !r.is_empty()),
            team: match filter.team.as_str() {
                "" => None,
                raw => {
                    Some(team_id(raw).map_err(|_| AppError::invalid("That team does not exist."))?)
                }
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

    pub fn user_line(user: &User) -> UserLine {
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

    pub fn role_choice(role: &Role) -> super::Choice {
        super::Choice {
            value: role.id.clone(),
            label: role.name.clone(),
        }
    }

    pub fn event_line(e: &AuditEvent) -> EventLine {
        EventLine {
            id: e.id.to_string(),
            at: server::when(e.at),
            action: e.action.clone(),
            ok: e.outcome == crate::domain::Outcome::Success,
            actor: e.actor.clone(),
            target: e.target.clone().unwrap_or_default(),
            actor_label: e.actor.clone(),
            target_label: e.target.clone().unwrap_or_default(),
            ip: e.ip.clone().unwrap_or_default(),
            user_agent: e
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(80).collect())
                .unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
        }
    }

    /// Shows `user:<id>` actors and targets by their email address.
    pub async fn with_people(ctx: &Ctx, mut lines: Vec<EventLine>) -> AppResult<Vec<EventLine>> {
        let mut known: std::collections::HashMap<String, String> = Default::default();
        for line in &mut lines {
            for (raw, label) in [
                (&line.actor, &mut line.actor_label),
                (&line.target, &mut line.target_label),
            ] {
                let Some(id) = raw
                    .strip_prefix("user:")
                    .and_then(|id| id.parse::<UserId>().ok())
                else {
                    continue;
                };
                if !known.contains_key(raw) {
                    let user = ctx.state.store.users.by_id(ctx.tenant.id, id).await?;
                    let shown = user
                        .map(|u| u.email.to_string())
                        .unwrap_or_else(|| raw.clone());
                    known.insert(raw.clone(), shown);
                }
                *label = known[raw].clone();
            }
        }
        Ok(lines)
    }

    pub async fn user_page(ctx: &Ctx, actor: &Actor, id: &str) -> AppResult<UserPage> {
        use crate::admin::{access, roles, users};
        let (state, t) = (&ctx.state, &ctx.tenant);
        let user = users::get(state, actor, t, user_id(id)?).await?;
        let all = roles::list(state, actor, t).await?;
        let direct = state.store.users.roles(t.id, user.id).await?;
        let effective = access::effective_roles(state, t, user.id).await?;
        let team_ids = state.store.access.teams_of(t.id, user.id).await?;
        let teams: Vec<super::Choice> = state
            .store
            .access
            .teams(t.id)
            .await?
            .into_iter()
            .filter(|team| team_ids.contains(&team.id))
            .map(|team| super::Choice {
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
            .map(|(consent, name)| super::Choice {
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
                .map(role_choice)
                .collect(),
            assignable: all
                .iter()
                .filter(|r| {
                    !direct.contains(&r.id) && actor.outranks(std::slice::from_ref(*r)).is_ok()
                })
                .map(role_choice)
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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientLine {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub disabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientsPage {
    pub clients: Vec<ClientLine>,
    /// Every application type: value, name, what it is for.
    pub types: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientPage {
    pub client_id: String,
    pub name: String,
    /// What the application is, in words, and as [`crate::domain::AppType`] names it.
    pub kind: String,
    pub app_type: String,
    pub public: bool,
    pub has_secret: bool,
    /// The secret, on the one page load right after it was made.
    pub secret: Option<String>,
    pub redirects: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub scopes: String,
    pub require_consent: bool,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub logo_uri: String,
    pub disabled: bool,
    pub grants: String,
    pub auth_method: String,
    pub issuer: String,
    pub discovery: String,
    pub snippet: String,
}

#[server(prefix = "/api", endpoint = "admin_clients")]
pub async fn load_admin_clients(tenant: String) -> Result<Console<ClientsPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("clients:manage_own"), |actor| {
        let ctx = &ctx;
        async move {
            let clients = crate::admin::clients::list(&ctx.state, &actor, &ctx.tenant).await?;
            Ok(ClientsPage {
                clients: clients
                    .iter()
                    .map(|c| ClientLine {
                        client_id: c.client_id.clone(),
                        name: c.name.clone(),
                        kind: crate::domain::AppType::of(c).describe().0.into(),
                        disabled: c.disabled,
                    })
                    .collect(),
                types: crate::domain::AppType::ALL
                    .iter()
                    .map(|t| {
                        let (name, what) = t.describe();
                        (t.as_str().into(), name.into(), what.into())
                    })
                    .collect(),
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_client")]
pub async fn load_admin_client(
    tenant: String,
    client: String,
    show: String,
) -> Result<Console<ClientPage>, ServerFnError> {
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("clients:manage_own"), |actor| {
        let ctx = &ctx;
        async move { console::client_page(ctx, &actor, &client, show == "1").await }
    })
    .await
}

/// The "new application" flow: the type sets the defaults; a secret is shown once on the
/// client's page.
#[server(prefix = "/api", endpoint = "admin_client_register")]
pub async fn register_client(
    tenant: String,
    csrf: String,
    app_type: String,
    name: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] logo_uri: String,
) -> Result<(), ServerFnError> {
    use crate::admin::clients;
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let back = format!(
        "/t/{}/admin/clients/new?type={}",
        ctx.tenant.slug,
        server::encode(&app_type)
    );
    let Some(actor) = console::act(&ctx, &csrf, &back).await? else {
        return Ok(());
    };
    let Some(kind) = crate::domain::AppType::parse(&app_type) else {
        let choose = format!("/t/{}/admin/clients/new", ctx.tenant.slug);
        let unknown = AppError::invalid("Choose the type of application first.");
        return console::done(&ctx, &choose, Err(unknown)).await;
    };
    let registration = clients::Registration {
        app_type: kind,
        name,
        redirect_uris: uri_lines(&redirect_uris),
        post_logout_redirect_uris: uri_lines(&post_logout_redirect_uris),
        logo_uri: Some(logo_uri.trim().to_owned()).filter(|l| !l.is_empty()),
    };
    match clients::register(&ctx.state, &actor, &ctx.tenant, registration).await {
        Ok((client, secret)) => {
            let page = format!("/t/{}/admin/clients/{}", ctx.tenant.slug, client.client_id);
            let Some(secret) = secret else {
                let text = format!("{} is registered.", client.name);
                return console::done(&ctx, &page, Ok(text)).await;
            };
            crate::auth::reveal::stash(&ctx.state, &ctx.session, &ctx.tenant, &[secret])
                .await
                .map_err(server::internal(&ctx))?;
            let text = format!(
                "{} is registered. Copy its secret now: it is shown only this once.",
                client.name
            );
            console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
        }
        Err(e) => console::done(&ctx, &back, Err(e)).await,
    }
}

#[server(prefix = "/api", endpoint = "admin_client_save")]
pub async fn save_client(
    tenant: String,
    csrf: String,
    client: String,
    name: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] scopes: String,
    #[server(default)] require_consent: Option<String>,
    access_token_ttl_secs: String,
    refresh_token_ttl_secs: String,
    #[server(default)] logo_uri: String,
) -> Result<(), ServerFnError> {
    let ctx = server::context(&tenant).await?;
    let page = console::client_url(&ctx, &client);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let outcome = async {
        let settings = crate::admin::clients::Settings {
            name,
            redirect_uris: uri_lines(&redirect_uris),
            post_logout_redirect_uris: uri_lines(&post_logout_redirect_uris),
            scopes,
            require_consent: require_consent.is_some(),
            access_token_ttl_secs: whole_number(
                &access_token_ttl_secs,
                "The access token lifetime",
            )
            .map_err(|e| e.on("access_token_ttl_secs"))?,
            refresh_token_ttl_secs: whole_number(
                &refresh_token_ttl_secs,
                "The refresh token lifetime",
            )
            .map_err(|e| e.on("refresh_token_ttl_secs"))?,
            logo_uri,
        };
        crate::admin::clients::update(&ctx.state, &actor, &ctx.tenant, &client, settings).await?;
        Ok("The application was saved.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// `rotate` the secret (the old one keeps working for `grace` seconds), `disable`, `enable`,
/// or `delete` (with `confirm` repeating the client id).
#[server(prefix = "/api", endpoint = "admin_client_action")]
pub async fn client_action(
    tenant: String,
    csrf: String,
    client: String,
    action: String,
    #[server(default)] grace: String,
    #[server(default)] confirm: String,
) -> Result<(), ServerFnError> {
    use crate::admin::clients;
    use crate::error::AppError;
    let ctx = server::context(&tenant).await?;
    let page = console::client_url(&ctx, &client);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let (state, t) = (&ctx.state, &ctx.tenant);
    match action.as_str() {
        "rotate" => {
            let grace = grace.trim().parse::<i64>().unwrap_or(-1);
            match clients::rotate_secret(state, &actor, t, &client, grace).await {
                Ok(secret) => {
                    crate::auth::reveal::stash(state, &ctx.session, t, &[secret])
                        .await
                        .map_err(server::internal(&ctx))?;
                    let text = "A new secret was made. Copy it now: it is shown only this once. The old secret keeps working for the grace period.".to_string();
                    console::done(&ctx, &format!("{page}?show=1"), Ok(text)).await
                }
                Err(e) => console::done(&ctx, &page, Err(e)).await,
            }
        }
        "disable" | "enable" => {
            let outcome = clients::set_disabled(state, &actor, t, &client, action == "disable")
                .await
                .map(|c| {
                    if c.disabled {
                        "The application is disabled: it gets no tokens.".to_string()
                    } else {
                        "The application is enabled again.".to_string()
                    }
                });
            console::done(&ctx, &page, outcome).await
        }
        "delete" => {
            if confirm.trim() != client {
                let refused =
                    Invalid::new("Type the client id to confirm deleting the application.");
                return console::done(&ctx, &page, Err(refused.on("confirm").into())).await;
            }
            match clients::delete(state, &actor, t, &client).await {
                Ok(()) => {
                    let list = format!("/t/{}/admin/clients", t.slug);
                    console::done(&ctx, &list, Ok("The application was deleted.".into())).await
                }
                Err(e) => console::done(&ctx, &page, Err(e)).await,
            }
        }
        _ => console::done(&ctx, &page, Err(AppError::invalid("Unknown action."))).await,
    }
}

/// The tenant's policies in the units the settings page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsPage {
    pub session_hours: i64,
    pub idle_minutes: i64,
    pub password_min_length: usize,
    pub block_common_passwords: bool,
    pub self_signup: bool,
    pub require_mfa: bool,
    /// (factor kind, label, allowed)
    pub factors: Vec<(String, String, bool)>,
    pub access_token_minutes: i64,
    pub refresh_idle_days: i64,
    pub refresh_absolute_days: i64,
}

#[server(prefix = "/api", endpoint = "admin_settings")]
pub async fn load_admin_settings(tenant: String) -> Result<Console<SettingsPage>, ServerFnError> {
    use crate::domain::FactorKind;
    let ctx = server::context(&tenant).await?;
    console::load(&ctx, Some("settings:manage"), |_| {
        let s = ctx.tenant.settings.clone();
        async move {
            let label = |kind: FactorKind| match kind {
                FactorKind::Totp => "Authenticator apps (TOTP)",
                FactorKind::EmailCode => "Codes by email",
                FactorKind::Passkey => "Passkeys and security keys",
                FactorKind::BackupCodes => "Backup codes",
            };
            Ok(SettingsPage {
                session_hours: s.session_lifetime_secs / 3600,
                idle_minutes: s.session_idle_timeout_secs / 60,
                password_min_length: s.password_min_length,
                block_common_passwords: s.block_common_passwords,
                self_signup: s.self_signup,
                require_mfa: s.require_mfa,
                factors: FactorKind::ENROLLABLE
                    .iter()
                    .map(|k| (k.as_str().into(), label(*k).into(), s.allows(*k)))
                    .collect(),
                access_token_minutes: s.access_token_secs / 60,
                refresh_idle_days: s.refresh_idle_secs / 86_400,
                refresh_absolute_days: s.refresh_absolute_secs / 86_400,
            })
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "admin_settings_save")]
pub async fn save_settings(
    tenant: String,
    csrf: String,
    session_hours: String,
    idle_minutes: String,
    password_min_length: String,
    #[server(default)] block_common_passwords: Option<String>,
    #[server(default)] require_mfa: Option<String>,
    #[server(default)] self_signup: Option<String>,
    #[server(default)] factors: Vec<String>,
    access_token_minutes: String,
    refresh_idle_days: String,
    refresh_absolute_days: String,
) -> Result<(), ServerFnError> {
    use crate::domain::{typed_duration, FactorKind, TimeUnit::*};
    use policy_numbers::*;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/settings", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    // Each number in the form's unit, refused under the name of the setting it becomes.
    let number =
        |parsed: Result<i64, Invalid>, field: &'static str| parsed.map_err(|e| e.on(field));
    let outcome = async {
        let mut settings = ctx.tenant.settings.clone();
        settings.session_lifetime_secs = number(
            typed_duration(&session_hours, Hours, SESSION),
            "session_lifetime_secs",
        )?;
        settings.session_idle_timeout_secs = number(
            typed_duration(&idle_minutes, Minutes, IDLE),
            "session_idle_timeout_secs",
        )?;
        settings.password_min_length = number(
            whole_number(&password_min_length, PASSWORD_LENGTH),
            "password_min_length",
        )? as usize;
        settings.block_common_passwords = block_common_passwords.is_some();
        settings.require_mfa = require_mfa.is_some();
        settings.self_signup = self_signup.is_some();
        settings.allowed_factors = factors
            .iter()
            .map(|f| {
                FactorKind::parse(f)
                    .filter(|k| *k != FactorKind::BackupCodes)
                    .ok_or_else(|| {
                        Invalid::new(format!("Unknown factor {f:?}.")).on("allowed_factors")
                    })
            })
            .collect::<Result<_, _>>()?;
        settings.access_token_secs = number(
            typed_duration(&access_token_minutes, Minutes, ACCESS),
            "access_token_secs",
        )?;
        settings.refresh_idle_secs = number(
            typed_duration(&refresh_idle_days, Days, REFRESH_IDLE),
            "refresh_idle_secs",
        )?;
        settings.refresh_absolute_secs = number(
            typed_duration(&refresh_absolute_days, Days, REFRESH_ABSOLUTE),
            "refresh_absolute_secs",
        )?;
        crate::admin::tenants::update_policies(&ctx.state, &actor, &ctx.tenant, settings).await?;
        Ok("The policies were saved.".to_string())
    }
    .await;
    console::done(&ctx, &page, outcome).await
}

/// A tenant's look as its pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandView {
    pub name: String,
    pub logo: Option<String>,
    pub support_url: Option<String>,
    pub support_email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandingPage {
    pub name: String,
    pub primary_colour: String,
    pub support_url: String,
    pub support_email: String,
    pub logo: Option<String>,
    /// A contrast warning for the saved colour.
    pub warning: Option<String>,
    /// The look being previewed (not saved), with its warning.
    pub preview: Option<(BrandView, Option<String>)>,
}

/// Where the branding form keeps a look being previewed.
#[cfg(feature = "ssr")]
pub const PREVIEW_KEY: &str = "console.branding_preview";

/// The look of a tenant for its sign-in, consent, second-factor, recovery and account pages.
#[server(prefix = "/api", endpoint = "brand")]
pub async fn load_brand(tenant: String) -> Result<Option<BrandView>, ServerFnError> {
    let Ok(ctx) = server::context(&tenant).await else {
        return Ok(None);
    };
    Ok(Some(console::brand_view(&ctx.tenant)))
}

#[server(prefix = "/api", endpoint = "admin_branding")]
pub async fn load_admin_branding(
    tenant: String,
    preview: String,
) -> Result<Console<BrandingPage>, ServerFnError> {
    use crate::admin::branding;
    let ctx = server::context(&tenant).await?;
    let draft: Option<(String, String, String, String)> = if preview == "1" {
        ctx.session.get(PREVIEW_KEY).await.ok().flatten()
    } else {
        None
    };
    console::load(&ctx, Some("branding:manage"), |_| {
        let ctx = &ctx;
        async move {
            let b = &ctx.tenant.settings.branding;
            let saved = branding::Look {
                name: ctx.tenant.name.clone(),
                primary_colour: b.primary_colour.clone().unwrap_or_default(),
                support_url: b.support_url.clone().unwrap_or_default(),
                support_email: b.support_email.clone().unwrap_or_default(),
            };
            let (_, warning) = branding::preview(&ctx.tenant, &saved)?;
            // While previewing, the form holds the look being tried, ready to save.
            let (shown, preview) = match draft {
                Some((name, primary_colour, support_url, support_email)) => {
                    let look = branding::Look {
                        name,
                        primary_colour,
                        support_url,
                        support_email,
                    };
                    let (drafted, warning) = branding::preview(&ctx.tenant, &look)?;
                    (look, Some((console::brand_view(&drafted), warning)))
                }
                None => (saved, None),
            };
            Ok(BrandingPage {
                name: shown.name,
                primary_colour: shown.primary_colour,
                support_url: shown.support_url,
                support_email: shown.support_email,
                logo: console::brand_view(&ctx.tenant).logo,
                warning,
                preview,
            })
        }
    })
    .await
}

/// Saves the look, or (`intent = "preview"`) shows it on a sample without saving.
#[server(prefix = "/api", endpoint = "admin_branding_save")]
pub async fn save_branding(
    tenant: String,
    csrf: String,
    name: String,
    #[server(default)] primary_colour: String,
    #[server(default)] support_url: String,
    #[server(default)] support_email: String,
    #[server(default)] intent: String,
) -> Result<(), ServerFnError> {
    use crate::admin::branding;
    let ctx = server::context(&tenant).await?;
    let page = format!("/t/{}/admin/branding", ctx.tenant.slug);
    let Some(actor) = console::act(&ctx, &csrf, &page).await? else {
        return Ok(());
    };
    let look = branding::Look {
        name,
        primary_colour,
        support_url,
        support_email,
    };
    if intent == "preview" {
        let checked = actor
            .require(&ctx.tenant, "branding:manage")
            .and_then(|_| branding::preview(&ctx.tenant, &look));
        return match checked {
            Ok(_) => {
                let draft = (
                    look.name,
                    look.primary_colour,
                    look.support_url,
                    look.support_email,
                );
                ctx.session
                    .insert(PREVIEW_KEY, &draft)
                    .await
                    .map_err(server::internal(&ctx))?;
                server::go(&format!("{page}?preview=1#preview"))
            }
            Err(e) => console::done(&ctx, &page, Err(e)).await,
        };
    }
    let outcome = branding::save(&ctx.state, &actor, &ctx.tenant, &look)
        .await
        .map(|(_, warning)| match warning {
            Some(w) => format!("Saved. Note: {w}"),
            None => "Saved: your sign-in pages use the new look.".to_string(),
        });
    console::done(&ctx, &page, outcome).await
}
