//! Users: the searchable list with filters and cursor pages, and one page per user with every
//! action an admin takes on an account.

use super::{console_form, console_page, Reauthenticate};
use crate::app::api::{
    load_admin_user, load_admin_users, ConsoleNav, CreateUser, ResetUserMfa, SetUserRole,
    UpdateUser, UserAction, UserFilter, UserPage, UsersPage,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, query_string, tenant_param, Loading};
use crate::domain::{AuditEvent, Email, User};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let tenant = tenant_param();
    let (q, status, role, team, before) = (
        query_param("q"),
        query_param("status"),
        query_param("role"),
        query_param("team"),
        query_param("before"),
    );
    let data = Resource::new(
        move || {
            (
                tenant.get(),
                UserFilter {
                    q: q.get(),
                    status: status.get(),
                    role: role.get(),
                    team: team.get(),
                    before: before.get(),
                },
                revision(),
            )
        },
        |(t, f, _)| load_admin_users(t, f),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Users", "users", |nav, page| {
                let filter = UserFilter {
                    q: q.get_untracked(),
                    status: status.get_untracked(),
                    role: role.get_untracked(),
                    team: team.get_untracked(),
                    before: String::new(),
                };
                view! { <Users nav page filter/> }
            }))}
        </Suspense>
    }
}

const STATUSES: [(&str, &str); 7] = [
    ("", "Any status"),
    ("active", "Not blocked"),
    ("blocked", "Blocked"),
    ("mfa", "Two-step sign-in on"),
    ("no_mfa", "No two-step sign-in"),
    ("unverified", "Email not verified"),
    ("deleted", "Deleted"),
];

#[component]
fn Users(nav: ConsoleNav, page: UsersPage, filter: UserFilter) -> impl IntoView {
    let base = format!("/t/{}/admin/users", nav.tenant);
    let status_options = STATUSES
        .iter()
        .map(|(value, label)| view! { <option value=*value selected=filter.status == *value>{*label}</option> })
        .collect_view();
    let role_options = page
        .roles
        .iter()
        .map(|r| view! { <option value=r.value.clone() selected=filter.role == r.value>{r.label.clone()}</option> })
        .collect_view();
    let team_options = page
        .teams
        .iter()
        .map(|t| view! { <option value=t.value.clone() selected=filter.team == t.value>{t.label.clone()}</option> })
        .collect_view();
    let rows = page
        .users
        .iter()
        .map(|u| {
            let verified =
                (!u.email_verified).then(|| view! { <span class="badge warn">"unverified"</span> });
            view! {
                <tr>
                    <td><a href=format!("{base}/{}", u.id)>{u.email.clone()}</a>{verified}</td>
                    <td>{u.name.clone()}</td>
                    <td>{u.status.clone()}</td>
                    <td>{u.last_login.clone()}</td>
                    <td>{u.created.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let filtered = filter != UserFilter::default();
    let empty = page.users.is_empty().then(|| {
        if filtered {
            view! { <p class="empty">"No user matches these filters. "<a href=base.clone()>"Clear the filters"</a>"."</p> }.into_any()
        } else {
            view! { <p class="empty">"Nobody is here yet. Create the first user below, or invite them by email."</p> }.into_any()
        }
    });
    let next = page.next.clone().map(|cursor| {
        let query = query_string(&[
            ("q", &filter.q),
            ("status", &filter.status),
            ("role", &filter.role),
            ("team", &filter.team),
            ("before", &cursor),
        ]);
        view! { <p><a class="button small-button" href=format!("{base}?{query}")>"Next page"</a></p> }
    });
    let first = filter_is_paged().then(|| view! { <a href=base.clone()>"First page"</a> });
    let create = page.can_write.then(|| {
        let flash = nav.flash.as_ref();
        let email = Checked::new("new-email", "email", flash, Email::parse);
        let name = Checked::new("new-name", "name", flash, User::check_name);
        // The password rules need the tenant's policy and the list of common passwords:
        // the server checks them, and its answer shows here.
        let password = Checked::server_only("new-password", "password", flash);
        view! {
        <section aria-labelledby="create-user">
            <h2 id="create-user">"Create a user"</h2>
            {console_form!(CreateUser, nav,
                <label for="new-email">"Email address"</label>
                <input id="new-email" type="email" name="email" required autocomplete="off" maxlength="254"
                    aria-describedby=email.note_id() aria-invalid=email.invalid() on:input=email.on_input()/>
                {email.note()}
                <label for="new-name">"Name (optional)"</label>
                <input id="new-name" type="text" name="name" maxlength="200" autocomplete="off"
                    aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                {name.note()}
                <label for="new-password">"Password (leave empty to send an invitation by email)"</label>
                <input id="new-password" type="password" name="password" autocomplete="new-password" minlength="8" maxlength="1024"
                    aria-describedby=password.note_id() aria-invalid=password.invalid()/>
                {password.note()}
                <button type="submit" class="button primary">"Create user"</button>)}
        </section>
        }
    });
    view! {
        <form method="get" action=base.clone() class="filters" role="search" aria-label="Find users">
            <div>
                <label for="q">"Email or name"</label>
                <input id="q" type="text" name="q" value=filter.q.clone() maxlength="200"/>
            </div>
            <div>
                <label for="status">"Status"</label>
                <select id="status" name="status">{status_options}</select>
            </div>
            <div>
                <label for="role">"Role"</label>
                <select id="role" name="role"><option value="">"Any role"</option>{role_options}</select>
            </div>
            <div>
                <label for="team">"Team"</label>
                <select id="team" name="team"><option value="">"Any team"</option>{team_options}</select>
            </div>
            <button type="submit" class="button small-button">"Search"</button>
        </form>
        {empty}
        {(!page.users.is_empty()).then(|| view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Users">
                <table>
                    <caption class="visually-hidden">"Users, newest first"</caption>
                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Last sign-in"</th><th scope="col">"Created"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        })}
        <div class="actions start">{first}{next}</div>
        {create}
    }
}

fn filter_is_paged() -> bool {
    !query_param("before").get_untracked().is_empty()
}

#[component]
pub fn AdminUserPage() -> impl IntoView {
    let tenant = tenant_param();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let data = Resource::new(
        move || (tenant.get(), id.get(), revision()),
        |(t, id, _)| load_admin_user(t, id),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "User", "users", |nav, page| view! { <User nav page/> }))}
        </Suspense>
    }
}

#[component]
fn User(nav: ConsoleNav, page: UserPage) -> impl IntoView {
    let user = page.user.clone();
    let here = format!("/t/{}/admin/users/{}", nav.tenant, user.id);
    let list = |items: &[String], empty: &'static str| {
        if items.is_empty() {
            view! { <p class="muted small">{empty}</p> }.into_any()
        } else {
            let items = items
                .iter()
                .map(|i| view! { <li>{i.clone()}</li> })
                .collect_view();
            view! { <ul class="plain">{items}</ul> }.into_any()
        }
    };
    let roles = page
        .roles
        .iter()
        .map(|r| {
            let remove = page.can_manage_roles.then(|| console_form!(SetUserRole, nav,
                <input type="hidden" name="user" value=user.id.clone()/>
                <input type="hidden" name="role" value=r.value.clone()/>
                <input type="hidden" name="grant" value="0"/>
                <button type="submit" class="button small-button danger" aria-label=format!("Take away the role {}", r.label)>"Take away"</button>));
            view! { <li class="row"><span>{r.label.clone()}</span>{remove}</li> }
        })
        .collect_view();
    let assign = (page.can_manage_roles && !page.assignable.is_empty()).then(|| {
        let options = page
            .assignable
            .iter()
            .map(|r| view! { <option value=r.value.clone()>{r.label.clone()}</option> })
            .collect_view();
        console_form!(SetUserRole, nav,
            <input type="hidden" name="user" value=user.id.clone()/>
            <input type="hidden" name="grant" value="1"/>
            <label for="give-role">"Give a role"</label>
            <select id="give-role" name="role">{options}</select>
            <button type="submit" class="button small-button">"Give role"</button>)
    });
    let teams: Vec<String> = page.teams.iter().map(|t| t.label.clone()).collect();
    let consents = page
        .consents
        .iter()
        .map(|c| {
            let revoke = (page.can_write && !page.is_self).then(|| console_form!(UserAction, nav,
                <input type="hidden" name="user" value=user.id.clone()/>
                <input type="hidden" name="action" value="revoke_consent"/>
                <input type="hidden" name="client" value=c.value.clone()/>
                <button type="submit" class="button small-button danger" aria-label=format!("Withdraw the consent to {}", c.label)>"Withdraw"</button>));
            view! { <li class="row"><span>{c.label.clone()}</span>{revoke}</li> }
        })
        .collect_view();
    let action = |name: &'static str, label: &'static str, danger: bool| {
        let class = if danger {
            "button small-button danger"
        } else {
            "button small-button"
        };
        console_form!(UserAction, nav,
            <input type="hidden" name="user" value=user.id.clone()/>
            <input type="hidden" name="action" value=name/>
            <button type="submit" class=class>{label}</button>)
    };
    let writes = (page.can_write && !page.is_self).then(|| {
        let flash = nav.flash.as_ref();
        let email = Checked::new("email", "email", flash, Email::parse);
        let name = Checked::new("name", "name", flash, User::check_name);
        let reason = Checked::new("reason", "reason", flash, AuditEvent::check_reason);
        let confirm = Checked::server_only("confirm", "confirm", flash);
        let block = if page.blocked { action("unblock", "Unblock", false) } else { action("block", "Block", true) };
        let delete = if page.deleted { action("restore", "Restore", false) } else { action("delete", "Delete", true) };
        view! {
            <section aria-labelledby="profile">
                <h2 id="profile">"Profile"</h2>
                {console_form!(UpdateUser, nav,
                    <input type="hidden" name="user" value=user.id.clone()/>
                    <label for="email">"Email address"</label>
                    <input id="email" type="email" name="email" value=user.email.clone() required maxlength="254"
                        aria-describedby=email.note_id() aria-invalid=email.invalid() on:input=email.on_input()/>
                    {email.note()}
                    <label for="name">"Name"</label>
                    <input id="name" type="text" name="name" value=user.name.clone() maxlength="200"
                        aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                    {name.note()}
                    <button type="submit" class="button">"Save profile"</button>)}
            </section>
            <section aria-labelledby="account-actions">
                <h2 id="account-actions">"Account"</h2>
                <div class="actions start">
                    {block}
                    {action("sign_out", "Sign out everywhere", false)}
                    {action("force_reset", "Force password reset", false)}
                    {delete}
                </div>
            </section>
            <section aria-labelledby="mfa-reset">
                <h2 id="mfa-reset">"Reset two-step sign-in"</h2>
                <p class="muted small">"Removes every second factor, for someone who lost them all. They are told by email. You may be asked to confirm it is you."</p>
                {console_form!(ResetUserMfa, nav,
                    <input type="hidden" name="user" value=user.id.clone()/>
                    <label for="reason">"Reason (goes into the audit log)"</label>
                    <input id="reason" type="text" name="reason" required maxlength="500"
                        aria-describedby=reason.note_id() aria-invalid=reason.invalid() on:input=reason.on_input()/>
                    {reason.note()}
                    <button type="submit" class="button danger">"Reset second factors"</button>)}
            </section>
            <section aria-labelledby="purge">
                <h2 id="purge">"Delete for good"</h2>
                <p class="muted small">"Removes the account with its sign-ins, tokens, consents, factors, roles and team memberships. This cannot be undone; the audit log keeps what they did."</p>
                {console_form!(UserAction, nav,
                    <input type="hidden" name="user" value=user.id.clone()/>
                    <input type="hidden" name="action" value="purge"/>
                    <label for="confirm">"Type the email address to confirm"</label>
                    <input id="confirm" type="text" name="confirm" required autocomplete="off" maxlength="254"
                        aria-describedby=confirm.note_id() aria-invalid=confirm.invalid()/>
                    {confirm.note()}
                    <button type="submit" class="button danger">"Delete for good"</button>)}
                <div class="reauth"><Reauthenticate nav=nav.clone() page=here.clone()/></div>
            </section>
        }
    });
    let events = page
        .events
        .iter()
        .map(|e| view! { <tr><td>{e.at.clone()}</td><td>{e.action.clone()}</td><td>{if e.ok { "success" } else { "failure" }}</td><td>{e.actor.clone()}</td><td>{e.reason.clone()}</td></tr> })
        .collect_view();
    view! {
        <p class="lead"><strong>{user.email.clone()}</strong>" · "{user.name.clone()}" · "{user.status.clone()}
            {(!user.email_verified).then(|| view! { <span class="badge warn">"email not verified"</span> })}</p>
        <p class="muted small">"Created "{user.created.clone()}", last sign-in "{user.last_login.clone()}</p>
        <div class="columns">
            <section aria-labelledby="roles">
                <h2 id="roles">"Roles"</h2>
                {if page.roles.is_empty() { view! { <p class="muted small">"No role given directly."</p> }.into_any() } else { view! { <ul class="list">{roles}</ul> }.into_any() }}
                {(!page.via_teams.is_empty()).then(|| view! { <p class="small">"Through teams: "{page.via_teams.join(", ")}</p> })}
                {assign}
            </section>
            <section aria-labelledby="teams">
                <h2 id="teams">"Teams"</h2>
                {list(&teams, "Not in any team.")}
            </section>
            <section aria-labelledby="factors">
                <h2 id="factors">"Second factors"</h2>
                {list(&page.factors, "No second factor.")}
            </section>
            <section aria-labelledby="sessions">
                <h2 id="sessions">"Active sign-ins"</h2>
                {list(&page.sessions, "Not signed in anywhere.")}
            </section>
            <section aria-labelledby="consents">
                <h2 id="consents">"Applications allowed"</h2>
                {if page.consents.is_empty() {
                    view! { <p class="muted small">"No application was allowed yet."</p> }.into_any()
                } else {
                    view! { <ul class="list">{consents}</ul> }.into_any()
                }}
            </section>
        </div>
        {writes}
        <section aria-labelledby="events">
            <h2 id="events">"Recent events"</h2>
            {if page.events.is_empty() {
                view! { <p class="muted small">"No events about this user, or you may not read the audit log."</p> }.into_any()
            } else {
                view! { <div class="table-wrap" tabindex="0" role="region" aria-label="Recent events"><table><thead><tr><th scope="col">"When"</th><th scope="col">"What"</th><th scope="col">"Result"</th><th scope="col">"By"</th><th scope="col">"Detail"</th></tr></thead><tbody>{events}</tbody></table></div> }.into_any()
            }}
        </section>
        <section aria-labelledby="personal-data">
            <h2 id="personal-data">"Personal data"</h2>
            <p class="muted small">"For a request from this person to see what is kept about them (GDPR Art. 15): their profile, roles, teams, sign-ins, the applications they allowed and their second factors, without secrets, as a JSON file. The export is recorded in the audit log."</p>
            <p><a class="button small-button" href=format!("{here}/data") download="" rel="external">"Export this user's data"</a></p>
        </section>
    }
}
