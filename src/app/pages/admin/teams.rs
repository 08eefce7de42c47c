//! Teams: groups of people who share roles.

use super::{console_form, console_page, ConfirmBox, NameAndDescription};
use crate::app::api::{load_admin_teams, ChangeTeam, ConsoleNav, SaveTeam, TeamsPage};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{tenant_param, Loading};
use crate::domain::access::check_name;
use crate::domain::Email;
use leptos::prelude::*;

#[component]
pub fn AdminTeamsPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_teams(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Teams", "teams", |nav, page| view! { <Teams nav page/> }))}
        </Suspense>
    }
}

#[component]
fn Teams(nav: ConsoleNav, page: TeamsPage) -> impl IntoView {
    let users = format!("/t/{}/admin/users", nav.tenant);
    let teams = page
        .teams
        .iter()
        .enumerate()
        .map(|(n, team)| {
            let member = Checked::new(&format!("t{n}-email"), "email", None, Email::parse);
            let role_boxes = page
                .roles
                .iter()
                .map(|r| {
                    let id = format!("t{n}-role-{}", r.value);
                    view! {
                        <li>
                            <input type="checkbox" id=id.clone() name="roles[]" value=r.value.clone() checked=team.roles.contains(&r.value)/>
                            <label for=id>{r.label.clone()}</label>
                        </li>
                    }
                })
                .collect_view();
            let members = team
                .members
                .iter()
                .map(|m| view! {
                    <li class="row">
                        <a href=format!("{users}/{}", m.value)>{m.label.clone()}</a>
                        {console_form!(ChangeTeam, nav,
                            <input type="hidden" name="team" value=team.id.clone()/>
                            <input type="hidden" name="action" value="remove"/>
                            <input type="hidden" name="user" value=m.value.clone()/>
                            <button type="submit" class="button small-button danger" aria-label=format!("Remove {} from {}", m.label, team.name)>"Remove"</button>)}
                    </li>
                })
                .collect_view();
            let role_names: Vec<String> = page
                .roles
                .iter()
                .filter(|r| team.roles.contains(&r.value))
                .map(|r| r.label.clone())
                .collect();
            let summary = format!(
                "{} member(s) · roles: {}",
                team.members.len(),
                if role_names.is_empty() { "none".to_string() } else { role_names.join(", ") }
            );
            view! {
                <details class="team">
                    <summary><strong>{team.name.clone()}</strong>" · "{summary}</summary>
                    <h3>"Members"</h3>
                    {if team.members.is_empty() {
                        view! { <p class="muted small">"No members yet: add someone by email below."</p> }.into_any()
                    } else {
                        view! { <ul class="list">{members}</ul> }.into_any()
                    }}
                    {console_form!(ChangeTeam, nav,
                        <input type="hidden" name="team" value=team.id.clone()/>
                        <input type="hidden" name="action" value="add"/>
                        <label for=format!("t{n}-email")>"Add a member by email"</label>
                        <input id=format!("t{n}-email") type="email" name="email" required maxlength="254"
                            aria-describedby=member.note_id() aria-invalid=member.invalid() on:input=member.on_input()/>
                        {member.note()}
                        <button type="submit" class="button small-button">"Add member"</button>)}
                    <h3>"Name and roles"</h3>
                    {console_form!(SaveTeam, nav,
                        <input type="hidden" name="team" value=team.id.clone()/>
                        <label for=format!("t{n}-name")>"Name"</label>
                        <NameAndDescription prefix=format!("t{n}") name=team.name.clone() description=team.description.clone() flash=None rule=check_name/>
                        <fieldset class="picker"><legend>"Every member holds these roles"</legend><ul>{role_boxes}</ul></fieldset>
                        <button type="submit" class="button">"Save team"</button>)}
                    {console_form!(ChangeTeam, nav,
                        <input type="hidden" name="team" value=team.id.clone()/>
                        <input type="hidden" name="action" value="delete"/>
                        <ConfirmBox id=format!("t{n}-delete") label=format!("Delete {}: its members lose the team's roles", team.name)/>
                        <button type="submit" class="button small-button danger">"Delete team"</button>)}
                </details>
            }
        })
        .collect_view();
    let empty = page.teams.is_empty().then(|| view! {
        <p class="empty">"No teams yet. Create one below, then add members and give it roles."</p>
    });
    view! {
        {empty}
        {teams}
        <section aria-labelledby="new-team">
            <h2 id="new-team">"Create a team"</h2>
            {console_form!(SaveTeam, nav,
                <label for="team-name">"Name"</label>
                <NameAndDescription prefix="team".into() name=String::new() description=String::new() flash=nav.flash.clone() rule=check_name/>
                <button type="submit" class="button primary">"Create team"</button>)}
        </section>
    }
}
