//! Roles: the built-in ones, and custom roles with a readable permission picker.

use super::{console_form, console_page, ConfirmBox, NameAndDescription};
use crate::app::api::{load_admin_roles, ConsoleNav, DeleteRole, RoleLine, RolesPage, SaveRole};
use crate::app::pages::admin::revision;
use crate::app::pages::{tenant_param, Loading};
use crate::domain::Role;
use leptos::prelude::*;

#[component]
pub fn AdminRolesPage() -> impl IntoView {
    let tenant = tenant_param();
    let data = Resource::new(
        move || (tenant.get(), revision()),
        |(t, _)| load_admin_roles(t),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "Roles", "roles", |nav, page| view! { <Roles nav page/> }))}
        </Suspense>
    }
}

/// Checkboxes for every permission, with what it allows; `prefix` keeps ids unique per form.
fn picker(page: &RolesPage, held: &[String], prefix: &str) -> impl IntoView {
    let all = held.iter().any(|p| p == "*");
    let boxes = page
        .catalogue
        .iter()
        .map(|p| {
            let id = format!("{prefix}-{}", p.value.replace(':', "-"));
            view! {
                <li>
                    <input type="checkbox" id=id.clone() name="permissions[]" value=p.value.clone()
                        checked=held.contains(&p.value)/>
                    <label for=id><code>{p.value.clone()}</code>" — "{p.label.clone()}</label>
                </li>
            }
        })
        .collect_view();
    let everything = format!("{prefix}-all");
    view! {
        <fieldset class="picker">
            <legend>"Permissions"</legend>
            <ul>
                <li>
                    <input type="checkbox" id=everything.clone() name="permissions[]" value="*" checked=all/>
                    <label for=everything><code>"*"</code>" — everything, including managing owners"</label>
                </li>
                {boxes}
            </ul>
        </fieldset>
    }
}

#[component]
fn Roles(nav: ConsoleNav, page: RolesPage) -> impl IntoView {
    let (built_in, custom): (Vec<RoleLine>, Vec<RoleLine>) =
        page.roles.iter().cloned().partition(|r| r.built_in);
    let built_in_rows = built_in
        .iter()
        .map(|r| {
            let perms = if r.permissions.is_empty() { "none".to_string() } else { r.permissions.join(", ") };
            view! { <tr><th scope="row">{r.name.clone()}</th><td class="text">{r.description.clone()}</td><td class="text"><code>{perms}</code></td><td>{r.holders}</td></tr> }
        })
        .collect_view();
    let custom_forms = custom
        .iter()
        .map(|r| {
            let prefix = format!("r{}", &r.id[r.id.len().saturating_sub(8)..]);
            view! {
                <details class="role">
                    <summary><strong>{r.name.clone()}</strong>" · "{r.holders}" direct holder(s) · "<code>{r.permissions.join(", ")}</code></summary>
                    {console_form!(SaveRole, nav,
                        <input type="hidden" name="role" value=r.id.clone()/>
                        <label for=format!("{prefix}-name")>"Name"</label>
                        <NameAndDescription prefix=prefix.clone() name=r.name.clone() description=r.description.clone() flash=None rule=Role::check_custom_name/>
                        {picker(&page, &r.permissions, &prefix)}
                        <button type="submit" class="button">"Save role"</button>)}
                    {console_form!(DeleteRole, nav,
                        <input type="hidden" name="role" value=r.id.clone()/>
                        <ConfirmBox id=format!("{prefix}-delete") label=format!("Delete {}: everyone loses what it gives them", r.name)/>
                        <button type="submit" class="button danger small-button">"Delete role"</button>)}
                </details>
            }
        })
        .collect_view();
    let empty = custom.is_empty().then(|| view! {
        <p class="empty">"No custom roles yet. Create one below when the built-in roles do not fit, for example a support role that may only read users."</p>
    });
    view! {
        <section aria-labelledby="built-in">
            <h2 id="built-in">"Built-in roles"</h2>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Built-in roles"><table>
                <thead><tr><th scope="col">"Role"</th><th scope="col">"What it is for"</th><th scope="col">"Permissions"</th><th scope="col">"Direct holders"</th></tr></thead>
                <tbody>{built_in_rows}</tbody>
            </table></div>
        </section>
        <section aria-labelledby="custom">
            <h2 id="custom">"Custom roles"</h2>
            {empty}
            {custom_forms}
        </section>
        <section aria-labelledby="new-role">
            <h2 id="new-role">"Create a role"</h2>
            {console_form!(SaveRole, nav,
                <label for="role-name">"Name"</label>
                <NameAndDescription prefix="role".into() name=String::new() description=String::new() flash=nav.flash.clone() rule=Role::check_custom_name/>
                {picker(&page, &[], "new")}
                <button type="submit" class="button primary">"Create role"</button>)}
        </section>
    }
}
