//! API keys: how other systems act in the organisation, each key with the permissions it was
//! given, shown once when made.

use super::{console_form, console_page, ConfirmBox, Reauthenticate};
use crate::app::api::{load_admin_api_keys, ApiKeysPage, ConsoleNav, CreateApiKey, RevokeApiKey};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::access::check_name;
use leptos::prelude::*;

#[component]
pub fn AdminApiKeysPage() -> impl IntoView {
    let tenant = tenant_param();
    let show = query_param("show");
    let data = Resource::new(
        move || (tenant.get(), show.get(), revision()),
        |(t, s, _)| load_admin_api_keys(t, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "API keys", "api-keys", |nav, page| view! { <ApiKeys nav page/> }))}
        </Suspense>
    }
}

#[component]
fn ApiKeys(nav: ConsoleNav, page: ApiKeysPage) -> impl IntoView {
    let here = format!("/t/{}/admin/api-keys", nav.tenant);
    let secret = page.secret.clone().map(|secret| view! {
        <section class="secret-once" aria-labelledby="secret-title">
            <h2 id="secret-title">"Your new API key"</h2>
            <p>"Copy it now and keep it in the other system's secret store: it is shown only this once. Send it as "<code>"Authorization: Bearer …"</code>"."</p>
            <label for="api-key-secret">"Key"</label>
            <input id="api-key-secret" type="text" readonly value=secret data-testid="api-key-secret"/>
            <button type="button" class="button small-button" data-copy="api-key-secret" hidden=true>"Copy"</button>
        </section>
    });
    let rows = page
        .keys
        .iter()
        .enumerate()
        .map(|(n, k)| {
            let revoke = k.active.then(|| console_form!(RevokeApiKey, nav,
                <input type="hidden" name="key" value=k.id.clone()/>
                <ConfirmBox id=format!("k{n}-revoke") label=format!("Revoke {}", k.name)/>
                <button type="submit" class="button small-button danger">"Revoke"</button>));
            let last_used = if k.last_used.is_empty() { "Never".to_string() } else { k.last_used.clone() };
            view! {
                <tr>
                    <td><strong>{k.name.clone()}</strong><br/><code class="small">{k.hint.clone()}</code></td>
                    <td class="small">{k.permissions.join(", ")}</td>
                    <td>{k.status.clone()}</td>
                    <td class="small">{k.created.clone()}</td>
                    <td class="small">{k.expires.clone()}</td>
                    <td class="small">{last_used}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    let list = if page.keys.is_empty() {
        view! { <p class="empty">"No API keys yet. Make one below for each system that needs access, with only the permissions it needs."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="API keys"><table>
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Permissions"</th><th scope="col">"Status"</th><th scope="col">"Made"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }.into_any()
    };
    let flash = nav.flash.as_ref();
    let name = Checked::new("key-name", "name", flash, check_name);
    let permissions_note = Checked::server_only("key-permissions", "permissions", flash);
    let expires_note = Checked::server_only("key-expires", "expires", flash);
    let boxes = page
        .permissions
        .iter()
        .map(|p| {
            let id = format!("perm-{}", p.value.replace([':', '*'], "-"));
            view! {
                <li>
                    <input type="checkbox" id=id.clone() name="permissions[]" value=p.value.clone()/>
                    <label for=id>{p.label.clone()}</label>
                </li>
            }
        })
        .collect_view();
    let lifetimes = page
        .lifetimes
        .iter()
        .map(|days| view! { <option value=days.to_string() selected=*days == 90>{format!("{days} days")}</option> })
        .collect_view();
    view! {
        {secret}
        <p class="muted small">"A key lets another system use this organisation's management API with the permissions you give it (never more than you hold). Only a fingerprint of each key is kept: a lost key cannot be shown again, so revoke it and make a new one. Every use is recorded in the audit log."</p>
        {list}
        <section aria-labelledby="new-key">
            <h2 id="new-key">"Make a key"</h2>
            {console_form!(CreateApiKey, nav,
                <label for="key-name">"Name"</label>
                <input id="key-name" type="text" name="name" required maxlength="60" placeholder="Deploy pipeline"
                    aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                {name.note()}
                <fieldset class="picker" aria-describedby=permissions_note.note_id()>
                    <legend>"What it may do"</legend>
                    <ul>{boxes}</ul>
                </fieldset>
                {permissions_note.note()}
                <label for="key-expires">"Works for"</label>
                <select id="key-expires" name="expires" aria-describedby=expires_note.note_id()>{lifetimes}</select>
                {expires_note.note()}
                <button type="submit" class="button primary">"Make key"</button>)}
            <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
        </section>
    }
}
