//! App registration (RFC 7591): the initial access tokens that let applications register
//! themselves a limited number of times, each shown once when made; and whether the
//! organisation lets them register without one.

use super::{console_form, console_page, ConfirmBox, Reauthenticate};
use crate::app::api::{
    load_admin_registration, ConsoleNav, CreateInitialToken, RegistrationPage, RevokeInitialToken,
    USES,
};
use crate::app::pages::admin::revision;
use crate::app::pages::field::Checked;
use crate::app::pages::{query_param, tenant_param, Loading};
use crate::domain::access::check_name;
use crate::domain::registration::MAX_USES;
use crate::domain::{whole_number, Invalid};
use leptos::prelude::*;

#[component]
pub fn AdminRegistrationPage() -> impl IntoView {
    let tenant = tenant_param();
    let show = query_param("show");
    let data = Resource::new(
        move || (tenant.get(), show.get(), revision()),
        |(t, s, _)| load_admin_registration(t, s),
    );
    view! {
        <Suspense fallback=Loading>
            {move || data.get().map(|loaded| console_page(loaded, "App registration", "registration", |nav, page| view! { <Registration nav page/> }))}
        </Suspense>
    }
}

/// The number of registrations a token allows, as typed (the rule of `domain::registration`).
fn check_uses(raw: &str) -> Result<i64, Invalid> {
    let uses = whole_number(raw, USES)?;
    if (1..=MAX_USES).contains(&uses) {
        Ok(uses)
    } else {
        Err(Invalid::new(format!(
            "A token allows 1 to {MAX_USES} registrations."
        )))
    }
}

#[component]
fn Registration(nav: ConsoleNav, page: RegistrationPage) -> impl IntoView {
    let here = format!("/t/{}/admin/registration", nav.tenant);
    let endpoint = page.endpoint.clone();
    let secret = page.secret.clone().map(|secret| view! {
        <section class="secret-once" aria-labelledby="secret-title">
            <h2 id="secret-title">"Your new initial access token"</h2>
            <p>"Copy it now and give it to the application's developers: it is shown only this once. Their application sends it as "
                <code>"Authorization: Bearer <token>"</code>" with its registration request, "<code>{format!("POST {endpoint}")}</code>"."</p>
            <label for="initial-token-secret">"Token"</label>
            <input id="initial-token-secret" type="text" readonly value=secret data-testid="initial-token-secret"/>
            <button type="button" class="button small-button" data-copy="initial-token-secret" hidden=true>"Copy"</button>
        </section>
    });
    let settings = format!("/t/{}/admin/settings", nav.tenant);
    let may_change = nav.areas.iter().any(|a| a == "settings");
    let policy = if page.open_registration {
        "Open registration is on: applications may also register without a token (at most 20 an hour from one address)."
    } else {
        "Open registration is off: an application needs one of these tokens to register."
    };
    let change = may_change.then(|| view! { " "<a href=settings>"Change it in Policies."</a> });
    let rows = page
        .tokens
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let revoke = t.active.then(|| console_form!(RevokeInitialToken, nav,
                <input type="hidden" name="token" value=t.id.clone()/>
                <ConfirmBox id=format!("t{n}-revoke") label=format!("Revoke {}", t.name)/>
                <button type="submit" class="button small-button danger">"Revoke"</button>));
            view! {
                <tr>
                    <td><strong>{t.name.clone()}</strong><br/><code class="small">{t.hint.clone()}</code></td>
                    <td>{t.uses.clone()}</td>
                    <td>{t.status.clone()}</td>
                    <td class="small">{t.created.clone()}</td>
                    <td class="small">{t.expires.clone()}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    let list = if page.tokens.is_empty() {
        view! { <p class="empty">"No initial access tokens yet. Make one below for each partner or pipeline that registers applications."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Initial access tokens"><table>
                <caption class="visually-hidden">"Initial access tokens"</caption>
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Registrations"</th><th scope="col">"Status"</th><th scope="col">"Made"</th><th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        }.into_any()
    };
    let flash = nav.flash.as_ref();
    let name = Checked::new("token-name", "name", flash, check_name);
    let uses = Checked::new("token-uses", "max_uses", flash, check_uses);
    let expires_note = Checked::server_only("token-expires", "expires", flash);
    let lifetimes = page
        .lifetimes
        .iter()
        .map(|days| {
            let label = if *days == 1 {
                "1 day".to_string()
            } else {
                format!("{days} days")
            };
            view! { <option value=days.to_string() selected=*days == 7>{label}</option> }
        })
        .collect_view();
    view! {
        {secret}
        <p class="muted small">"Applications can register themselves with this organisation (dynamic client registration, RFC 7591) by posting their metadata to "
            <code>{page.endpoint.clone()}</code>". An initial access token lets them do so a limited number of times until it expires. Only a fingerprint of each token is kept: a lost token cannot be shown again, so revoke it and make a new one. Applications registered this way are marked \"Self-registered\" under Applications."</p>
        <p data-testid="open-registration">{policy}{change}</p>
        {list}
        <section aria-labelledby="new-token">
            <h2 id="new-token">"Make a token"</h2>
            {console_form!(CreateInitialToken, nav,
                <label for="token-name">"Name"</label>
                <input id="token-name" type="text" name="name" required maxlength="60" placeholder="Partner onboarding"
                    aria-describedby=name.note_id() aria-invalid=name.invalid() on:input=name.on_input()/>
                {name.note()}
                <label for="token-uses">"Number of registrations"</label>
                <input id="token-uses" type="number" inputmode="numeric" name="uses" value="1" min="1" max=page.max_uses.to_string() required
                    aria-describedby=format!("token-uses-hint {}", uses.note_id()) aria-invalid=uses.invalid() on:input=uses.on_input()/>
                <p class="muted small" id="token-uses-hint">{format!("1 to {}: each application registered with the token uses it once.", page.max_uses)}</p>
                {uses.note()}
                <label for="token-expires">"Works for"</label>
                <select id="token-expires" name="expires" aria-describedby=expires_note.note_id()>{lifetimes}</select>
                {expires_note.note()}
                <button type="submit" class="button primary">"Make token"</button>)}
            <div class="reauth"><Reauthenticate nav=nav.clone() page=here/></div>
        </section>
    }
}
