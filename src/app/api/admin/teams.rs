//! The console's teams: a team's roles pass to its members.

#![allow(clippy::too_many_arguments)] // a server function takes one argument per form field

#[cfg(feature = "ssr")]
use super::console;
use super::{Choice, Console};
#[cfg(feature = "ssr")]
use crate::{app::api::server, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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
